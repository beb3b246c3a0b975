"""DD-GAN on MNIST: samples after a fixed CPU budget, the T ablation (Xiao et al. 2022,
Table 2: T = 1, 2, 4, 8) and the sampling time against 1000-step ancestral sampling.

    python experiments/ddgan_mnist.py [--steps 400] [--Ts 1,2,4,8] [--num_samples 1000]

Each T trains configs/mnist_ddgan.py for the same number of steps and seed (resumable
workdirs under runs/ddgan_mnist/), samples ``num_samples`` images with the EMA generator and
scores them against the 2,000 held-out images in the independent MNIST classifier's feature
space (vdmjax.eval.mnist_classifier): Frechet distance, classifier score.
Sampling time, in one run: DD-GAN T = 4 against the ancestral sampler of a 1000-step
diffusion model (Improved DDPM, fixed variances) whose eps-network is the generator's U-Net
with the same widths and depths, both jitted, batch ``--batch``, median of 3 runs after a
warm-up. Writes results/ddgan_mnist.{json,md,png}, results/ddgan_mnist_T4.png (samples),
results/ddgan_sampling_time.json and the `ddgan_vs_ancestral_sampling` record of
benchmarks/results.jsonl.
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
import numpy as np  # noqa: E402

import report  # noqa: E402
from benchmarks import common  # noqa: E402
from benchmarks.sampling import same_size_diffusion  # noqa: E402
from vdmjax.config_files import load_config_file  # noqa: E402
from vdmjax.eval import images as image_io  # noqa: E402
from vdmjax.eval import mnist_classifier  # noqa: E402
from vdmjax.train.loop import Experiment  # noqa: E402


def ddgan_config(T, steps):
  c = load_config_file(os.path.join(ROOT, "configs", "mnist_ddgan.py"))
  c.objective.T = T   # a FieldReference: sample.steps follows
  c.train.num_steps = steps
  return c


def count_params(tree):
  return int(sum(np.size(x) for x in jax.tree.leaves(tree)))


def sampling_time(exp, batch):
  """Seconds per batch of DD-GAN T (the trained model) and of 1000-step ancestral sampling."""
  shape = (batch, 28, 28, 1)
  rng = jax.random.PRNGKey(0)
  ddgan_fn = lambda p, r: exp.objective.sample(p, r, shape)
  _, ddgan_s = common.timed(ddgan_fn, exp.params_for_eval(), rng)
  diffusion = same_size_diffusion(exp.config.model.generator)
  params = diffusion.init(rng, {"image": np.zeros(shape, np.uint8),
                                "label": np.zeros(batch, np.int32)})
  _, ancestral_s = common.timed(lambda p, r: diffusion.sample(p, r, shape, 1000), params, rng,
                                repeats=1)
  return {"ddgan_seconds": ddgan_s, "ancestral_seconds": ancestral_s,
          "ratio": ancestral_s / ddgan_s, "batch": batch, "ddgan_T": exp.objective.T,
          "ancestral_steps": 1000,
          "generator_params": count_params(exp.state["params"]["generator"]),
          "diffusion_params": count_params(params)}


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--steps", type=int, default=400)
  p.add_argument("--Ts", default="1,2,4,8")
  p.add_argument("--num_samples", type=int, default=1000)
  p.add_argument("--batch", type=int, default=64, help="batch of the sampling-time comparison")
  p.add_argument("--workdir", default=os.path.join(ROOT, "runs", "ddgan_mnist"))
  p.add_argument("--out", default=os.path.join(ROOT, "results"))
  args = p.parse_args()
  os.makedirs(args.out, exist_ok=True)
  scorer = mnist_classifier.load_or_train(os.path.join(ROOT, "runs", "eval_classifier"))
  ref_images, ref_labels = mnist_classifier.sources.load_local_mnist("eval")
  records, exps = [], {}
  for T in [int(t) for t in args.Ts.split(",")]:
    exp = Experiment(ddgan_config(T, args.steps), os.path.join(args.workdir, f"T{T}"))
    t0 = time.time()
    exp.train()   # resumes, or returns at once when the workdir holds the finished run
    train_s = time.time() - t0
    sample = jax.jit(lambda p, r, exp=exp: exp.objective.sample(p, r, (args.num_samples, 28,
                                                                       28, 1)))
    x = image_io.to_uint8(jax.device_get(sample(exp.params_for_eval(), jax.random.PRNGKey(3))))
    rec = {"T": T, "train_steps": args.steps, "train_seconds_this_run": round(train_s, 1),
           **mnist_classifier.score_samples(scorer, x, ref_images, ref_labels)}
    print(json.dumps(rec), flush=True)
    records.append(rec)
    image_io.save_grid(x[:64], os.path.join(args.out, f"ddgan_mnist_T{T}.png"))
    exps[T] = exp
  with open(os.path.join(args.out, "ddgan_mnist.json"), "w") as f:
    json.dump(records, f, indent=2)
  report.write_table(
      os.path.join(args.out, "ddgan_mnist.md"),
      ["T", "train steps", "Frechet (classifier features)", "classifier score"],
      [[r["T"], r["train_steps"], f"{r['frechet']:.1f}", f"{r['classifier_score']:.2f}"]
       for r in records])
  plt = report.pyplot()
  fig, ax = plt.subplots(figsize=(4.5, 3.2))
  ax.plot([r["T"] for r in records], [r["frechet"] for r in records], "o-")
  ax.set(xscale="log", xlabel="T (DD-GAN steps)",
         ylabel="Frechet distance (classifier features)")
  ax.set_xticks([r["T"] for r in records], [str(r["T"]) for r in records])
  report.save(fig, os.path.join(args.out, "ddgan_mnist.png"))
  if 4 in exps:
    timing = sampling_time(exps[4], args.batch)
    with open(os.path.join(args.out, "ddgan_sampling_time.json"), "w") as f:
      json.dump(timing, f, indent=2)
    common.record("ddgan_vs_ancestral_sampling", **timing)


if __name__ == "__main__":
  main()
