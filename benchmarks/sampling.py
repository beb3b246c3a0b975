"""Sampling and likelihood-evaluation throughput of the MNIST-size models (initial parameters:
the cost of a network call does not depend on their values, except for the adaptive ODE).

    python benchmarks/sampling.py [--batch 64]

Images/s of VDM ancestral sampling with T = 1000, Improved DDPM ancestral sampling on 50
respaced steps and DDIM on 50 steps, DD-GAN with T = 4 (configs/mnist_ddgan.py) against 1000
ancestral steps with the generator's network as the eps-net (equal network size; record
`ddgan_vs_ancestral_sampling`, also against the generator's plain U-Net without latent input;
`ratio` at the throughput of 10 DD-GAN calls issued back to back, `ratio_single_call` at one
call's latency),
classifier-free guided sampling (both passes batched) against unguided; the cost of one
batched CFG call against one conditional call at twice the batch (record
`cfg_batched_vs_conditional`, key `ratio`); images/s of the VLB evaluation (VDM continuous,
iDDPM exact T-term bound) and of the ODE evaluation with a fixed-step Heun solver (100 steps,
201 evaluations with a Hutchinson probe). Each loop is one compiled lax.scan.
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
from vdmjax.core import guidance  # noqa: E402
from vdmjax.eval import likelihood as ode  # noqa: E402
from vdmjax.train.factory import make_objective  # noqa: E402

BACK_TO_BACK = 10   # DD-GAN calls issued per timed run for the sampling ratio


def init(objective):
  x = np.zeros((8, 28, 28, 1), np.uint8)
  return objective.init(jax.random.PRNGKey(0), {"image": x, "label": np.zeros(8, np.int32)})


def model(config_name, **net):
  c = load_config_file(os.path.join(ROOT, "configs", config_name))
  block = {"vdm": c.model.get("score"), "iddpm": c.model.get("net"),
           "ddgan": c.model.get("generator")}[c.method]
  block.update(net)
  objective = make_objective(c)
  return objective, init(objective)


def same_size_diffusion(gen_cfg):
  """An Improved DDPM (T = 1000, fixed variances) whose eps-net has the DD-GAN generator's
  U-Net (``gen_cfg`` = config.model.generator): the equal-size baseline of DD-GAN sampling."""
  c = load_config_file(os.path.join(ROOT, "configs", "mnist_iddpm.py"))
  c.model.net.update(model_channels=gen_cfg.model_channels, channel_mult=gen_cfg.channel_mult,
                     num_res_blocks=gen_cfg.num_res_blocks, num_heads=1,
                     attention_resolutions=gen_cfg.attention_resolutions, dropout=0.0,
                     learn_sigma=False)
  c.objective.update(var_type="fixed_small", loss="simple", T=1000)
  c.sample.respacing = ""
  return make_objective(c)


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--batch", type=int, default=64)
  p.add_argument("--only", default="", choices=["", "ddgan"],
                 help="'ddgan': only the DD-GAN sampling comparison")
  args = p.parse_args()
  b, shape = args.batch, (args.batch, 28, 28, 1)
  rng = jax.random.PRNGKey(0)
  labels = jnp.arange(b) % 10
  builders = {"vdm": lambda: model("mnist_vdm.py", num_classes=10),
              "iddpm": lambda: model("mnist_iddpm.py", num_classes=10),
              "ddgan": lambda: model("mnist_ddgan.py")}
  models = {kind: build() for kind, build in builders.items() if kind.startswith(args.only)}
  if "iddpm" in models:
    models["iddpm"][0].sample_respacing = ""
  cases = {
      "vdm_ancestral_1000": lambda o, p, r: o.sample(p, r, shape, 1000),
      "vdm_ancestral_1000_cfg": lambda o, p, r: o.sample(p, r, shape, 1000, labels, 1.0),
      "iddpm_ancestral_50": lambda o, p, r: o.sample(p, r, shape, 50),
      "iddpm_ddim_50": lambda o, p, r: o.sample(p, r, shape, 50, sampler="ddim"),
      "iddpm_ancestral_50_cfg": lambda o, p, r: o.sample(p, r, shape, 50, labels, 1.0),
      "ddgan_4": lambda o, p, r: o.sample(p, r, shape),
  }
  seconds = {}
  for name, fn in cases.items():
    if name.split("_")[0] not in models:
      continue
    objective, params = models[name.split("_")[0]]
    compile_s, seconds[name] = timed(lambda p, r, fn=fn, o=objective: fn(o, p, r), params, rng,
                                     repeats=1 if "1000" in name else 3)
    record("sampling", case=name, batch=b, seconds=seconds[name], images_per_s=b /
           seconds[name], compile_s=compile_s)
  ddgan, ddgan_params = models["ddgan"]

  # DD-GAN's 4 generator calls against 1000 ancestral steps (iDDPM sampler, fixed variances)
  # at equal network size: the eps-net is the generator's own network with a fresh z per step
  # (a constant z would let XLA fold the latent mapping away), so both samplers make the same
  # network calls; and, for reference, the plain U-Net of the generator's widths without the
  # latent input (cheaper per call: no z mapping or adaptive norms)
  gen_cfg = load_config_file(os.path.join(ROOT, "configs", "mnist_ddgan.py")).model.generator
  diffusion = same_size_diffusion(gen_cfg)
  _, plain_s = timed(lambda p, r: diffusion.sample(p, r, shape, 1000), init(diffusion), rng,
                     repeats=1)
  z_at = lambda t: jax.random.normal(jax.random.fold_in(rng, t[0]), (b, ddgan.nz))
  diffusion.model_fn = lambda p, labels=None: (lambda x, t: ddgan.g_fn(p)(x, t, z_at(t)))
  _, same_s = timed(lambda p, r: diffusion.sample(p, r, shape, 1000), ddgan_params["generator"],
                    rng, repeats=1)
  # a DD-GAN batch is short enough for the host's dispatch of a call to show in its latency;
  # sampling many batches (Experiment.sample's chunks) dispatches the next batch while the
  # device runs this one, so the ratio is taken at that throughput. A 1000-step call is long
  # enough for its latency to be its throughput.
  _, ddgan_s = timed(lambda p, r: ddgan.sample(p, r, shape), ddgan_params, rng,
                     back_to_back=BACK_TO_BACK)
  record("ddgan_vs_ancestral_sampling", batch=b, ddgan_T=4, ddgan_seconds=ddgan_s,
         back_to_back=BACK_TO_BACK, ancestral_steps=1000, ancestral_seconds=same_s,
         ratio=same_s / ddgan_s, ddgan_single_call_seconds=seconds["ddgan_4"],
         ratio_single_call=same_s / seconds["ddgan_4"], ancestral_plain_unet_seconds=plain_s,
         ratio_plain_unet=plain_s / ddgan_s, source="benchmarks/sampling.py")

  if args.only:
    return
  (vdm, vdm_params), (iddpm, iddpm_params) = models["vdm"], models["iddpm"]

  # one CFG network call (conditional and unconditional halves batched) against one
  # conditional call at twice the batch: the same FLOPs, so ideally the same time
  z2 = jax.random.normal(rng, (2 * b, 28, 28, 1))
  g = jnp.zeros((b,))
  cond = lambda z, g_, c: vdm.score_net.apply({"params": vdm_params["score"]}, z, g_, c)
  _, t_cfg = timed(lambda z: guidance.cfg_denoiser(cond, labels, 10, 1.0)(z, g), z2[:b],
                   repeats=10)
  _, t_cond = timed(lambda z: cond(z, jnp.zeros((2 * b,)), jnp.arange(2 * b) % 10), z2,
                    repeats=10)
  record("cfg_batched_vs_conditional", batch=b, cfg_seconds=t_cfg,
         conditional_2x_batch_seconds=t_cond, ratio=t_cfg / t_cond)

  x = jnp.asarray(np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8))
  batch = {"image": x, "label": labels}
  for name, obj, params in (("vdm_vlb", vdm, vdm_params), ("iddpm_exact_bound", iddpm,
                                                           iddpm_params)):
    _, run_s = timed(lambda p, r: obj.eval_terms(p, batch, r), params, rng, repeats=1)
    record("likelihood_eval", case=name, batch=b, seconds=run_s, images_per_s=b / run_s)
    _, run_s = timed(lambda p, r: ode.ode_eval_terms(obj, p, batch, r, solver="heun",
                                                    num_steps=100), params, rng, repeats=1)
    record("likelihood_eval", case=f"{name.split('_')[0]}_ode_heun100", batch=b, seconds=run_s,
           images_per_s=b / run_s, nfe=201)


if __name__ == "__main__":
  main()
