#!/usr/bin/env bash
# The benchmark set at accelerator sizes (paper batch for the CIFAR-10 network, the 32-block
# paper network for scan vs unrolled, batch 256 for sampling). `make bench` is the CPU set.
#   bash benchmarks/accelerator.sh [train|scan|sampling|all]   (PYTHON overrides the interpreter)
set -u
PY=${PYTHON:-python3}
part=${1:-all}
run() { echo "+ $*"; timeout 900 "$PY" "$@" || echo "FAILED ($?): $*"; }
if [ "$part" = train ] || [ "$part" = all ]; then
  run benchmarks/train_step.py --preset vdm_ref --steps 50
  run benchmarks/train_step.py --preset mnist_demo --steps 50
  # the step without its non-finite guard: whether the lax.cond costs a host sync per step
  run benchmarks/train_step.py --preset vdm_ref --steps 50 --no_guard
  # the paper's batch of 128 on one device; float32 without remat needs ~72 GiB there (it does
  # not fit an 80 GB H100 beside the allocator's reserve), so it is also measured at batch 64
  for flags in "" "--remat" "--dtype bfloat16" "--remat --dtype bfloat16"; do
    # shellcheck disable=SC2086
    run benchmarks/train_step.py --preset cifar10_vdm --batch 128 --steps 20 $flags
  done
  for flags in "" "--remat"; do
    # shellcheck disable=SC2086
    run benchmarks/train_step.py --preset cifar10_vdm --batch 64 --steps 20 $flags
  done
  run benchmarks/train_step.py --preset cifar10_vdm --batch 128 --steps 20 --remat \
    --dtype bfloat16 --no_guard
  run benchmarks/profile_step.py --preset cifar10_vdm --batch 128 --remat --dtype bfloat16
  # the loop's host work against a millisecond step, where a per-step host round trip shows
  run benchmarks/train_loop.py --batch 128 --steps 100
fi
if [ "$part" = scan ] || [ "$part" = all ]; then
  run benchmarks/scan_vs_unrolled.py --n_layer 32 --channels 128 --size 32 --batch 32 \
    --repeats 10
  # the paper batch in the setting that fits it (bfloat16 compute, rematerialised blocks), with
  # 1, 2 and 4 blocks per scan iteration (fewer iterations: less loop overhead, more to compile)
  for unroll in 1 2 4; do
    run benchmarks/scan_vs_unrolled.py --n_layer 32 --channels 128 --size 32 --batch 128 \
      --repeats 10 --dtype bfloat16 --remat --scan_unroll "$unroll"
  done
fi
if [ "$part" = sampling ] || [ "$part" = all ]; then
  run benchmarks/sampling.py --batch 256
fi
