"""Improved DDPM on MNIST: sample quality against the number of respaced sampling steps, for
learned variances (hybrid loss) and fixed variances (L_simple).

    python experiments/iddpm_respacing.py [--steps 500] [--T 250] [--num_samples 200]

The paper's claim (Nichol & Dhariwal 2021, Sec. 4, Fig. 8): models with learned variances keep
their sample quality with far fewer (respaced) steps than fixed-variance models. The two
models are those of experiments/iddpm_objectives.py (same workdirs; trained here if absent).
For each respacing the same number of samples is drawn with one compiled ancestral loop and
scored against the 2,000 held-out images by the independent MNIST classifier
(vdmjax.eval.mnist_classifier): Frechet distance in its feature space, classifier score.
Writes results/iddpm_respacing.json (records `variant`, `sampling_steps`, `frechet`, ...),
results/iddpm_respacing.md and results/iddpm_respacing.png.
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

import report  # noqa: E402
from iddpm_objectives import variant_config  # noqa: E402
from vdmjax.eval import images as image_io  # noqa: E402
from vdmjax.eval import mnist_classifier  # noqa: E402
from vdmjax.train.loop import Experiment  # noqa: E402


def trained(name, steps, T, workdir):
  c = variant_config(name, steps, T)
  c.sample.respacing = ""
  exp = Experiment(c, os.path.join(workdir, name))
  exp.train()   # resumes, or returns at once when the workdir holds the finished run
  return exp


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--steps", type=int, default=500)
  p.add_argument("--T", type=int, default=250)
  p.add_argument("--num_samples", type=int, default=200)
  p.add_argument("--respacings", default="10,25,50,100")
  p.add_argument("--variants", default="hybrid,simple")
  p.add_argument("--workdir", default=os.path.join(ROOT, "runs", "iddpm_objectives"))
  p.add_argument("--out", default=os.path.join(ROOT, "results"))
  args = p.parse_args()
  scorer = mnist_classifier.load_or_train(os.path.join(ROOT, "runs", "eval_classifier"))
  ref_images, ref_labels = mnist_classifier.sources.load_local_mnist("eval")
  step_counts = [int(k) for k in args.respacings.split(",")] + [args.T]
  variants = args.variants.split(",")
  os.makedirs(args.out, exist_ok=True)
  results = os.path.join(args.out, "iddpm_respacing.json")
  # records of variants not run now are kept, so the variants can be run one at a time
  records = []
  if os.path.exists(results):
    with open(results) as f:
      records = [r for r in json.load(f) if r["variant"] not in variants]
  for name in variants:
    exp = trained(name, args.steps, args.T, args.workdir)
    params = exp.params_for_eval()
    shape = (args.num_samples,) + ref_images.shape[1:]
    for k in step_counts:
      fn = jax.jit(lambda p, r, k=k: exp.objective.sample(p, r, shape, k))
      rng = jax.random.PRNGKey(0)
      fn.lower(params, rng).compile()
      t0 = time.time()
      x = image_io.to_uint8(jax.device_get(fn(params, rng)))
      seconds = time.time() - t0
      rec = {"variant": name, "var_type": exp.config.objective.var_type, "T": args.T,
             "sampling_steps": k, "train_steps": args.steps, "sample_seconds": seconds,
             **mnist_classifier.score_samples(scorer, x, ref_images, ref_labels)}
      print(json.dumps(rec), flush=True)
      records.append(rec)
      if k == 50:
        image_io.save_grid(x[:64], os.path.join(args.out, f"iddpm_respacing_{name}_50.png"))
    with open(results, "w") as f:
      json.dump(records, f, indent=2)
  report.write_table(
      os.path.join(args.out, "iddpm_respacing.md"),
      ["variant", "variances", "sampling steps", "Frechet (classifier features)",
       "classifier score", "seconds"],
      [[r["variant"], r["var_type"], r["sampling_steps"], f"{r['frechet']:.1f}",
        f"{r['classifier_score']:.2f}", f"{r['sample_seconds']:.0f}"] for r in records])
  plot(records, os.path.join(args.out, "iddpm_respacing.png"))


def plot(records, path):
  plt = report.pyplot()
  fig, ax = plt.subplots(figsize=(5, 3.5))
  for name in dict.fromkeys(r["variant"] for r in records):
    rs = [r for r in records if r["variant"] == name]
    ax.plot([r["sampling_steps"] for r in rs], [r["frechet"] for r in rs], "o-",
            label=f"{name} ({rs[0]['var_type']})")
  ax.set_xscale("log")
  ax.set_xlabel("sampling steps (respaced)")
  ax.set_ylabel("Frechet distance (MNIST classifier features)")
  ax.legend()
  report.save(fig, path)


if __name__ == "__main__":
  main()
