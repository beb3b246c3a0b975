"""Compile time and gradient step time of the VDM score network, block stack scanned vs unrolled.

    python benchmarks/scan_vs_unrolled.py --n_layer 32 --channels 128 --size 32 --batch 8 \
        [--dtype bfloat16] [--remat]

Three variants of the gradient step: unrolled with XLA's convolutions, scanned with XLA's
convolutions, and scanned with the blocks' convolutions as ``LoopConv`` (``conv='loop'``, the
CPU default of a scanned stack's training step: XLA:CPU's own convolution kernel gradients
inside a loop take a slow path, jax-ml/jax#12868). Records `compile_scan_vs_unrolled` with
`compile_ratio` and `step_ratio` (the scan that ``conv='auto'`` picks for a training step on
this backend, 'loop' on CPU and XLA's convolutions elsewhere, against unrolled) and the figures
of all three in benchmarks/results.jsonl.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import record  # noqa: E402
from vdmjax.nets.vdm_score import VDMScoreNet, resolve_conv  # noqa: E402


def measure(scan, conv, args):
  net = VDMScoreNet(n_embd=args.channels, n_layer=args.n_layer, dropout=0.0, scan_blocks=scan,
                    scan_unroll=args.scan_unroll, conv=conv, remat=args.remat,
                    dtype=jnp.dtype(args.dtype))
  z = jnp.ones((args.batch, args.size, args.size, 3))
  g = jnp.zeros((args.batch,))
  params = jax.jit(net.init)(jax.random.PRNGKey(0), z, g)
  loss = lambda p: jnp.mean(net.apply(p, z, g) ** 2)
  step = jax.jit(jax.grad(loss))
  t0 = time.perf_counter()
  compiled = step.lower(params).compile()
  compile_s = time.perf_counter() - t0
  jax.block_until_ready(compiled(params))
  times = []
  for _ in range(args.repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(compiled(params))
    times.append(time.perf_counter() - t0)
  return compile_s, statistics.median(times)


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--n_layer", type=int, default=32)
  p.add_argument("--channels", type=int, default=128)
  p.add_argument("--size", type=int, default=32)
  p.add_argument("--batch", type=int, default=8)
  p.add_argument("--repeats", type=int, default=3)
  p.add_argument("--dtype", default="float32", help="compute dtype (parameters stay float32)")
  p.add_argument("--remat", action="store_true", help="rematerialise each block")
  p.add_argument("--scan_unroll", type=int, default=1, help="blocks per scan iteration")
  args = p.parse_args()
  c_u, s_u = measure(False, "xla", args)
  c_s, s_s = measure(True, "xla", args)
  c_l, s_l = measure(True, "loop", args)
  scan_conv = resolve_conv("auto", scanned=True, train=True)
  c_d, s_d = (c_l, s_l) if scan_conv == "loop" else (c_s, s_s)
  record("compile_scan_vs_unrolled", n_layer=args.n_layer, channels=args.channels,
         size=args.size, batch=args.batch, dtype=args.dtype, remat=args.remat,
         scan_unroll=args.scan_unroll,
         backend=jax.default_backend(),
         compile_unrolled_s=c_u, step_unrolled_s=s_u,
         compile_scan_xla_s=c_s, step_scan_xla_s=s_s,
         compile_scan_loop_s=c_l, step_scan_loop_s=s_l,
         scan_conv=scan_conv, compile_ratio=c_d / c_u, step_ratio=s_d / s_u,
         compile_ratio_xla=c_s / c_u, step_ratio_xla=s_s / s_u,
         compile_ratio_loop=c_l / c_u, step_ratio_loop=s_l / s_u)


if __name__ == "__main__":
  main()
