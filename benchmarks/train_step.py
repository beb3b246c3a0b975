"""Train-step benchmark: compile time, median step time, images/s, peak memory and the
achieved fraction of the machine's matmul FLOP/s, for the shared loop's jitted step.

    python benchmarks/train_step.py --preset vdm_ref        # prints step_s=<median seconds>
    python benchmarks/train_step.py --preset mnist_demo|mnist_iddpm|mnist_ddgan
    python benchmarks/train_step.py --preset cifar10_vdm --batch 8 [--remat] [--dtype bfloat16]
    python benchmarks/train_step.py --preset vdm_ref --no_guard   # without the non-finite guard

Presets: `vdm_ref` (32x32x3 uint8, batch 8, 4 ResNet blocks of 64 channels, Fourier features,
learnable_nnet schedule, continuous time, dropout 0.1, AdamW with EMA: the size at which we
compare against google-research/vdm's own step), `mnist_demo` (configs/mnist_vdm.py),
`mnist_iddpm` and `mnist_ddgan` (the CPU configs of the other methods; DD-GAN's step without
R1, the update of 14 steps in 15) and `cifar10_vdm` (the paper network,
configs/cifar10_vdm.py, at a reduced batch). The step's model FLOPs come from XLA's cost
analysis of the lowered, unrolled step without remat (benchmarks.common.step_flops); the
machine's FLOP/s from a large matmul in the step's compute dtype timed in the same run.
Appends `train_step` and `train_step_utilisation` (key `fraction`) records to
benchmarks/results.jsonl.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time

import jax

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.common import compiled_step_seconds, record, step_flops, step_setup  # noqa: E402
from vdmjax.config_files import load_config_file  # noqa: E402


def preset_config(name, batch):
  """(config, image shape) of a preset."""
  if name == "vdm_ref":
    c = load_config_file(os.path.join(ROOT, "configs", "mnist_vdm.py"))
    c.model.score.update(n_embd=64, n_layer=4, dropout=0.1, fourier=True)
    c.model.schedule.kind = "learnable_nnet"
    c.objective.T = 0
    c.train.batch_size = batch or 8
    return c, (32, 32, 3)
  if name == "mnist_demo":
    c = load_config_file(os.path.join(ROOT, "configs", "mnist_vdm.py"))
    c.train.batch_size = batch or c.train.batch_size
    return c, (28, 28, 1)
  if name in ("mnist_iddpm", "mnist_ddgan"):
    c = load_config_file(os.path.join(ROOT, "configs", f"{name}.py"))
    c.train.batch_size = batch or c.train.batch_size
    return c, (28, 28, 1)
  if name == "cifar10_vdm":
    c = load_config_file(os.path.join(ROOT, "configs", "cifar10_vdm.py"))
    c.train.batch_size = batch or 8
    return c, (32, 32, 3)
  raise SystemExit(f"--preset {name!r} is not one of vdm_ref, mnist_demo, mnist_iddpm, "
                   "mnist_ddgan, cifar10_vdm")


def set_network_options(config, **options):
  """Sets each option on every network block of config.model that has it (dtype: all
  networks; remat, scan_blocks: the VDM score network); an option set away from its default
  that no network has is an error."""
  defaults = {"remat": False, "dtype": "float32", "scan_blocks": "auto"}
  for key, value in options.items():
    blocks = [b for b in config.model.values() if key in b]
    if not blocks and value != defaults[key]:
      raise SystemExit(f"--{key}: no network of this preset has model.*.{key}")
    for block in blocks:
      block[key] = value


def matmul_flops_per_s(dtype, n=None, repeats=5):
  """FLOP/s of an n x n matmul in ``dtype`` on the default device (2 n^3 per product); n is
  2048 on CPU and 8192 on accelerators, large enough to reach their peak."""
  n = n or (2048 if jax.default_backend() == "cpu" else 8192)
  a = jax.random.normal(jax.random.PRNGKey(0), (n, n), dtype)
  f = jax.jit(lambda x: x @ x)
  jax.block_until_ready(f(a))
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(f(a))
    times.append(time.perf_counter() - t0)
  return 2.0 * n**3 / statistics.median(times)


def peak_memory_bytes():
  stats = jax.devices()[0].memory_stats() or {}
  if "peak_bytes_in_use" in stats:
    return stats["peak_bytes_in_use"], "device peak_bytes_in_use"
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "process max RSS"


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--preset", default="vdm_ref")
  p.add_argument("--batch", type=int, default=0)
  p.add_argument("--steps", type=int, default=10)
  p.add_argument("--remat", action="store_true")
  p.add_argument("--dtype", default="float32")
  p.add_argument("--scan_blocks", default="auto")
  p.add_argument("--no_guard", action="store_true",
                 help="the step without the lax.cond that keeps the state after a non-finite "
                      "update: what the guard costs")
  args = p.parse_args()
  config, shape = preset_config(args.preset, args.batch)
  scan = {"true": True, "false": False}.get(args.scan_blocks.lower(), "auto")
  set_network_options(config, remat=args.remat, dtype=args.dtype,
                      scan_blocks=args.scan_blocks.lower())   # build() reads the string
  b = config.train.batch_size
  compile_s, step_s = compiled_step_seconds(
      *step_setup(config, shape, guard=not args.no_guard), args.steps)
  flops = step_flops(config, shape)
  peak, peak_kind = peak_memory_bytes()
  machine = matmul_flops_per_s(args.dtype)
  common = dict(preset=args.preset, batch=b, image_shape=list(shape), remat=args.remat,
                dtype=args.dtype, scan_blocks=str(scan), guard=not args.no_guard)
  record("train_step", **common, step_s=step_s, images_per_s=b / step_s, steps_per_s=1 / step_s,
         compile_s=compile_s, peak_memory_mb=peak / 2**20, peak_memory_kind=peak_kind,
         flops_per_step=flops)
  record("train_step_utilisation", **common, achieved_flops_per_s=flops / step_s,
         matmul_flops_per_s=machine, fraction=flops / step_s / machine)
  print(f"step_s={step_s:.4f}")


if __name__ == "__main__":
  main()
