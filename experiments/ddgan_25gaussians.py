"""DD-GAN on the 25-Gaussians grid against Gaussian-step diffusion (Xiao et al. 2022, Fig. 6).

    python experiments/ddgan_25gaussians.py [--steps 6000] [--num_samples 10000]

The paper's point: with few steps the true denoising distribution q(x_k | x_{k+1}) is
multimodal, which a Gaussian step cannot represent, while DD-GAN's conditional generator can.
Three samplers on the chain of configs/toy_ddgan.py:
- 'ddgan', T = 4: configs/toy_ddgan.py trained here (EMA generator);
- 'diffusion', T = 4 and T = 1000: the ancestral sampler of a diffusion model with Gaussian
  steps x_k ~ q(x_k | x_{k+1}, x0_hat) whose denoiser is the exact E[x_0 | x_{k+1}] of the
  mixture: the best any trained Gaussian-step model can do, so its failure at T = 4 is the
  Gaussian assumption's, not a training shortfall.
Scored by vdmjax.eval.sample_metrics.mode_statistics (high quality: within 3 std of a mode;
covered: at least 10% of its share of high-quality samples). Writes
results/ddgan_25gaussians.json (records `model`, `T`, `modes_covered`, `high_quality`, ...),
results/ddgan_25gaussians.md and results/ddgan_25gaussians.png.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "experiments"))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import report  # noqa: E402
from vdmjax.config_files import load_config_file  # noqa: E402
from vdmjax.data import sources  # noqa: E402
from vdmjax.eval.sample_metrics import mode_statistics  # noqa: E402
from vdmjax.objectives import ddgan  # noqa: E402
from vdmjax.train.loop import Experiment  # noqa: E402

STD = 0.05


def grid_means():
  g = np.arange(-4, 5, 2, dtype=np.float32)
  return np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)


def exact_x0_mean(means, std):
  """E[x_0 | x_k] under x_k = alpha x_0 + sigma eps, x_0 ~ equal mixture of N(mu_j, std^2 I):
  responsibilities of N(alpha mu_j, (alpha^2 std^2 + sigma^2) I) times each component's
  Gaussian posterior mean mu_j + alpha std^2 / v (x_k - alpha mu_j)."""
  means = jnp.asarray(means)

  def x0_mean(x, gamma):
    alpha2 = jax.nn.sigmoid(-gamma)[:, None]
    alpha, var = jnp.sqrt(alpha2), alpha2 * std**2 + jax.nn.sigmoid(gamma)[:, None]
    diff = x[:, None, :] - alpha[:, :, None] * means[None]            # (B, J, 2)
    resp = jax.nn.softmax(-0.5 * jnp.sum(diff**2, -1) / var, axis=1)  # (B, J)
    comp = means[None] + (alpha * std**2 / var)[:, :, None] * diff
    return jnp.sum(resp[..., None] * comp, axis=1)

  return x0_mean


def diffusion_samples(T, n, seed):
  """The Gaussian-step ancestral sampler on the T-step chain with the exact denoiser."""
  gammas = ddgan.chain_gammas(T)
  x0_mean = exact_x0_mean(grid_means(), STD)
  gen = lambda x, k, z: x0_mean(x, gammas[k + 1])
  run = jax.jit(lambda rng: ddgan.sample(gen, rng, (n, 2), gammas, nz=1))
  return np.asarray(run(jax.random.PRNGKey(seed)))


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--steps", type=int, default=6000)
  p.add_argument("--num_samples", type=int, default=10_000)
  p.add_argument("--workdir", default=os.path.join(ROOT, "runs", "ddgan_25gaussians"))
  p.add_argument("--out", default=os.path.join(ROOT, "results"))
  args = p.parse_args()
  os.makedirs(args.out, exist_ok=True)
  c = load_config_file(os.path.join(ROOT, "configs", "toy_ddgan.py"))
  c.train.num_steps = args.steps
  exp = Experiment(c, args.workdir)
  t0 = time.time()
  exp.train()   # resumes, or returns at once when the workdir holds the finished run
  train_s = time.time() - t0
  sample = jax.jit(lambda p, rng: exp.objective.sample(p, rng, (args.num_samples, 2)))
  panels = {"data": sources.grid_25_gaussians(np.random.default_rng(7), args.num_samples)[0],
            "ddgan T=4": np.asarray(sample(exp.params_for_eval(), jax.random.PRNGKey(1)))}
  # the records are the samplers ('ddgan', 'diffusion'); exact data draws are the reference
  data = mode_statistics(panels["data"], grid_means(), STD)
  records = [dict(model="ddgan", T=4, **mode_statistics(panels["ddgan T=4"], grid_means(), STD),
                  train_steps=args.steps, train_seconds=round(train_s, 1),
                  reference_data={k: data[k] for k in ("modes_covered", "high_quality")})]
  for T in (4, 1000):
    pts = diffusion_samples(T, args.num_samples, seed=2)
    panels[f"diffusion T={T}"] = pts
    records.append(dict(model="diffusion", T=T, denoiser="exact",
                        **mode_statistics(pts, grid_means(), STD)))
  for r in records:
    r["num_samples"] = args.num_samples
  with open(os.path.join(args.out, "ddgan_25gaussians.json"), "w") as f:
    json.dump(records, f, indent=1)
  report.write_table(
      os.path.join(args.out, "ddgan_25gaussians.md"),
      ["model", "T", "modes covered (of 25)", "high quality"],
      [[r["model"] + (" (exact denoiser)" if r.get("denoiser") else ""), r["T"],
        r["modes_covered"], f"{r['high_quality']:.3f}"] for r in records] +
      [["data (exact draws)", "-", data["modes_covered"], f"{data['high_quality']:.3f}"]])
  plt = report.pyplot()
  fig, axes = plt.subplots(1, 4, figsize=(16, 4.2))
  for ax, name in zip(axes, ["data", "ddgan T=4", "diffusion T=4", "diffusion T=1000"]):
    ax.scatter(*panels[name][:4000].T, s=1, alpha=0.5)
    ax.set(xlim=(-5.5, 5.5), ylim=(-5.5, 5.5), aspect="equal", title=name)
  report.save(fig, os.path.join(args.out, "ddgan_25gaussians.png"))


if __name__ == "__main__":
  main()
