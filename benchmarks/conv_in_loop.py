"""Convolutions and their gradients inside a loop body against outside one (jax-ml/jax#12868).

    python benchmarks/conv_in_loop.py [--batch 2] [--channels 128] [--size 32]
        [--classifier_batch 200] [--sampler_batch 64]

Each figure is seconds per call: jitted alone ('outside'), and per iteration of a lax.scan of
--iterations calls whose carry feeds the next call ('inside'). Three cases:
  kernel_grad: the kernel gradient of one 3x3 'SAME' convolution (NHWC, channels in = out),
    as XLA derives it and as ``conv_same`` (LoopConv) writes it;
  classifier_input_grad: the input gradient of log p(c | z_t) of configs/mnist_classifier.py at
    --classifier_batch (what classifier guidance computes at every sampler step), with the
    classifier's convolutions 'xla' and 'loop';
  score_forward: the forward pass of configs/mnist_vdm.py's score network at --sampler_batch
    (what the samplers compute at every step; XLA's convolutions).
Records `conv_in_loop` with `case`, `conv`, `outside_s`, `inside_s` and `ratio`
(inside / outside).
"""

from __future__ import annotations

import argparse
import os
import sys

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import record, timed  # noqa: E402
from vdmjax.config_files import load_config_file  # noqa: E402
from vdmjax.nets.build import build  # noqa: E402
from vdmjax.nets.layers import conv_same  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _xla_conv(x, kernel):
  return jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME",
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"))


def outside_and_inside(fn, x, iterations):
  """Seconds of fn(x) jitted alone and per iteration of a scan of x <- x + 1e-3 fn(x)."""
  def loop(x):
    return jax.lax.scan(lambda h, _: (h + 1e-3 * fn(h), None), x, None, length=iterations)[0]
  _, outside = timed(fn, x)
  _, inside = timed(loop, x)
  return outside, inside / iterations


def measure(case, conv, fn, x, args, **extra):
  outside, inside = outside_and_inside(fn, x, args.iterations)
  return record("conv_in_loop", case=case, conv=conv, outside_s=outside, inside_s=inside,
                ratio=inside / outside, **extra)


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--batch", type=int, default=2)
  p.add_argument("--channels", type=int, default=128)
  p.add_argument("--size", type=int, default=32)
  p.add_argument("--classifier_batch", type=int, default=200)
  p.add_argument("--sampler_batch", type=int, default=64)
  p.add_argument("--iterations", type=int, default=8)
  args = p.parse_args()

  c = args.channels
  x = jax.random.normal(jax.random.PRNGKey(0), (args.batch, args.size, args.size, c))
  kernel = 0.05 * jax.random.normal(jax.random.PRNGKey(1), (3, 3, c, c))
  for conv, op in (("xla", _xla_conv), ("loop", conv_same)):
    # the kernel gradient, brought back to the input's shape so that it can be the carry
    def kernel_grad(x, op=op):
      dk = jax.grad(lambda k: jnp.sum(op(x, k) ** 2))(kernel)
      return x + jnp.mean(dk)
    measure("kernel_grad", conv, kernel_grad, x, args, batch=args.batch, channels=c,
            size=args.size)

  ccfg = load_config_file(os.path.join(ROOT, "configs", "mnist_classifier.py"))
  z = jax.random.normal(jax.random.PRNGKey(2), (args.classifier_batch, 28, 28, 1))
  gamma = jnp.zeros((args.classifier_batch,))
  for conv in ("xla", "loop"):
    ccfg.model.classifier.conv = conv
    net = build(ccfg.model.classifier, "model.classifier")
    params = jax.jit(net.init)(jax.random.PRNGKey(3), z, gamma)

    def input_grad(z, net=net, params=params):
      log_prob = lambda z_: jnp.sum(jax.nn.log_softmax(net.apply(params, z_, gamma))[:, 3])
      return jax.grad(log_prob)(z)
    measure("classifier_input_grad", conv, input_grad, z, args, batch=args.classifier_batch)

  vcfg = load_config_file(os.path.join(ROOT, "configs", "mnist_vdm.py"))
  net = build(vcfg.model.score, "model.score")
  z = jax.random.normal(jax.random.PRNGKey(4), (args.sampler_batch, 28, 28, 1))
  gamma = jnp.zeros((args.sampler_batch,))
  params = jax.jit(net.init)(jax.random.PRNGKey(5), z, gamma)
  measure("score_forward", "xla", lambda z: net.apply(params, z, gamma), z, args,
          batch=args.sampler_batch)


if __name__ == "__main__":
  main()
