"""Likelihood-evaluation throughput of a paper config's network, and the time a full test-set
evaluation takes per device, computed from it.

    python benchmarks/eval_throughput.py --config cifar10_vdm --batch 8 [--nfe 150]

Times one VLB evaluation of a batch (one network call per image and draw) and one evaluation
of the probability-flow ODE's vector field with a Hutchinson probe (a forward pass and a
Jacobian-vector product), then computes the time for `--num_examples` images: the VLB with one
draw, the ODE with `--nfe` function evaluations per batch (adaptive solvers need ~100-300 at
rtol = atol = 1e-5; eval JSONs report the measured count). Records `eval_throughput`.
"""

from __future__ import annotations

import argparse
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.common import record, timed  # noqa: E402
from vdmjax.config_files import load_config_file  # noqa: E402
from vdmjax.core.likelihood import uint8_to_unit  # noqa: E402
from vdmjax.eval import likelihood as ode  # noqa: E402
from vdmjax.train.factory import make_objective  # noqa: E402

SHAPES = {"cifar10": (32, 32, 3), "mnist_local": (28, 28, 1),
          "downsampled_imagenet/32x32": (32, 32, 3), "downsampled_imagenet/64x64": (64, 64, 3)}


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--config", default="cifar10_vdm")
  p.add_argument("--batch", type=int, default=8)
  p.add_argument("--nfe", type=int, default=150)
  p.add_argument("--num_examples", type=int, default=10_000)
  args = p.parse_args()
  c = load_config_file(os.path.join(ROOT, "configs", f"{args.config}.py"))
  objective = make_objective(c)
  shape = (args.batch,) + SHAPES[c.data.name]
  x = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
  batch = {"image": jnp.asarray(x), "label": jnp.zeros((args.batch,), jnp.int32)}
  params = jax.jit(objective.init)(jax.random.PRNGKey(0), batch)
  rng = jax.random.PRNGKey(1)
  _, vlb_s = timed(lambda p_, r: objective.eval_terms(p_, batch, r)["bpd"], params, rng)
  eps_fn, gamma_fn = objective.ode_fns(params)
  drift = ode.ode_drift(eps_fn, gamma_fn)
  z = uint8_to_unit(batch["image"])
  probes = ode.draw_probes(rng, z.shape)
  _, field_s = timed(lambda z_: ode.hutchinson_divergence(lambda y: drift(0.5, y), z_, probes),
                        z)
  batches = args.num_examples / args.batch
  record("eval_throughput", config=args.config, batch=args.batch, vlb_batch_s=vlb_s,
         vlb_images_per_s=args.batch / vlb_s, ode_field_eval_s=field_s, nfe_assumed=args.nfe,
         full_test_set_vlb_hours=batches * vlb_s / 3600,
         full_test_set_ode_hours=batches * args.nfe * field_s / 3600,
         num_examples=args.num_examples)


if __name__ == "__main__":
  main()
