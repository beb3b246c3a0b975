"""Compile time and gradient step time of the VDM score network, block stack scanned vs unrolled.

    python benchmarks/scan_vs_unrolled.py --n_layer 32 --channels 128 --size 32 --batch 8

Three variants of the gradient step: unrolled with XLA's convolutions, scanned with XLA's
convolutions, and scanned with the blocks' convolutions as im2col matmuls (``conv='im2col'``,
the CPU default of a scanned stack: XLA:CPU's convolution gradients inside a loop take a slow
path, jax-ml/jax#12868). Records `compile_scan_vs_unrolled` with `compile_ratio` and
`step_ratio` (the im2col scan against unrolled) and the figures of all three in
benchmarks/results.jsonl.
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
from vdmjax.nets.vdm_score import VDMScoreNet  # noqa: E402


def measure(scan, conv, args):
  net = VDMScoreNet(n_embd=args.channels, n_layer=args.n_layer, dropout=0.0, scan_blocks=scan,
                    conv=conv)
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
  args = p.parse_args()
  c_u, s_u = measure(False, "xla", args)
  c_s, s_s = measure(True, "xla", args)
  c_i, s_i = measure(True, "im2col", args)
  record("compile_scan_vs_unrolled", n_layer=args.n_layer, channels=args.channels,
         size=args.size, batch=args.batch, backend=jax.default_backend(),
         compile_unrolled_s=c_u, step_unrolled_s=s_u,
         compile_scan_xla_s=c_s, step_scan_xla_s=s_s,
         compile_scan_im2col_s=c_i, step_scan_im2col_s=s_i,
         compile_ratio=c_i / c_u, step_ratio=s_i / s_u,
         compile_ratio_xla=c_s / c_u, step_ratio_xla=s_s / s_u)


if __name__ == "__main__":
  main()
