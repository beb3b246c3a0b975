"""The guidance trade-off on MNIST at CPU scale: classifier-free guidance (Ho & Salimans 2022,
Table 1 / Fig. 4) against classifier guidance (Dhariwal & Nichol 2021, ADM-G).

    python experiments/guidance_mnist.py [--num_samples 100]

Trains (or resumes) configs/mnist_cfg.py, a class-conditional Improved DDPM with label
dropout p_uncond = 0.1, and configs/mnist_classifier.py, a noise-aware classifier on the same
diffusion. Then, with the config's 50 respaced ancestral steps and labels 0..9 in turn:
CFG with w in (0, 0.1, 0.3, 1, 2, 4), and classifier guidance of the same conditional model
(guidance_w = 0, as ADM-G) with scale s in (0.5, 1, 2, 4, 8). Every setting draws the same
number of samples from the same seed and is scored by the independent MNIST classifier
(vdmjax.eval.mnist_classifier, trained on the held-out split): accuracy of the samples'
labels, Frechet distance to the 2,000 held-out images in its feature space, within-class
diversity relative to real images, and the classifier score (Inception-score analogue).
Writes results/guidance_mnist.json (records `method`, `scale`, `accuracy`, `frechet`,
`diversity`, ...), results/guidance_mnist.md, the trade-off plot results/guidance_mnist.png
and sample grids results/guidance_mnist_<method>_<scale>.png.
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

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import report  # noqa: E402
from vdmjax.config_files import load_config_file  # noqa: E402
from vdmjax.data import sources  # noqa: E402
from vdmjax.eval import images as image_io  # noqa: E402
from vdmjax.eval import mnist_classifier  # noqa: E402
from vdmjax.run import write_config  # noqa: E402
from vdmjax.train.loop import Experiment  # noqa: E402

CFG_WEIGHTS = (0.0, 0.1, 0.3, 1.0, 2.0, 4.0)
CLASSIFIER_SCALES = (0.5, 1.0, 2.0, 4.0, 8.0)
GRIDS = {("cfg", 0.0), ("cfg", 1.0), ("cfg", 4.0), ("classifier", 2.0), ("classifier", 8.0)}


def trained(config_path, workdir):
  """The experiment of a config file in ``workdir``, trained to its num_steps."""
  c = load_config_file(config_path)
  write_config(c, workdir)
  exp = Experiment(c, workdir)
  t0 = time.time()
  exp.train()
  print(f"{config_path}: step {int(exp.state['step'])} ({time.time() - t0:.0f} s)", flush=True)
  return exp


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--num_samples", type=int, default=100)
  p.add_argument("--workdir", default=os.path.join(ROOT, "runs", "guidance_mnist"))
  p.add_argument("--out", default=os.path.join(ROOT, "results"))
  p.add_argument("--model_config", default=os.path.join(ROOT, "configs", "mnist_cfg.py"))
  p.add_argument("--classifier_config",
                 default=os.path.join(ROOT, "configs", "mnist_classifier.py"))
  args = p.parse_args()
  os.makedirs(args.out, exist_ok=True)
  model = trained(args.model_config, os.path.join(args.workdir, "cfg"))
  classifier_dir = os.path.join(args.workdir, "classifier")
  classifier = trained(args.classifier_config, classifier_dir)
  cls_eval = classifier.evaluate(write=False)
  print(f"noise-aware classifier, held-out (t uniform): accuracy {cls_eval['accuracy']:.3f}",
        flush=True)
  scorer = mnist_classifier.load_or_train(os.path.join(ROOT, "runs", "eval_classifier"))
  ref_images, ref_labels = sources.load_local_mnist("eval")
  labels = np.arange(args.num_samples) % 10
  settings = [("cfg", w) for w in CFG_WEIGHTS] + [("classifier", s) for s in CLASSIFIER_SCALES]
  records = []
  for method, scale in settings:
    model.config.sample.classifier_workdir = classifier_dir if method == "classifier" else ""
    model.config.sample.classifier_scale = scale if method == "classifier" else 0.0
    path = os.path.join(args.workdir, "samples", f"{method}_{scale:g}.png")
    t0 = time.time()
    model.sample(path=path, num=args.num_samples, labels=jnp.asarray(labels),
                 guidance_w=scale if method == "cfg" else 0.0)
    seconds = time.time() - t0
    x = np.load(os.path.splitext(path)[0] + ".npz")["images"]
    rec = {"method": method, "scale": scale, "seconds": seconds,
           "sampling_steps": model.config.sample.respacing,
           **mnist_classifier.score_samples(scorer, x, ref_images, ref_labels, labels)}
    print(json.dumps(rec), flush=True)
    records.append(rec)
    if (method, scale) in GRIDS:
      order = np.argsort(labels[:40], kind="stable")
      image_io.save_grid(x[:40][order], os.path.join(args.out,
                                                     f"guidance_mnist_{method}_{scale:g}.png"),
                         ncols=10)
  summary = {"classifier_heldout_accuracy_noised": cls_eval["accuracy"],
             "num_samples": args.num_samples, "records": records}
  with open(os.path.join(args.out, "guidance_mnist.json"), "w") as f:
    json.dump(records, f, indent=2)
  with open(os.path.join(args.workdir, "summary.json"), "w") as f:
    json.dump(summary, f, indent=2)
  report.write_table(
      os.path.join(args.out, "guidance_mnist.md"),
      ["method", "scale (w or s)", "accuracy", "Frechet", "diversity", "classifier score"],
      [[r["method"], f"{r['scale']:g}", f"{r['accuracy']:.3f}", f"{r['frechet']:.1f}",
        f"{r['diversity']:.3f}", f"{r['classifier_score']:.2f}"] for r in records])
  plot(records, os.path.join(args.out, "guidance_mnist.png"))


def plot(records, path):
  plt = report.pyplot()
  fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
  for method, marker in (("cfg", "o-"), ("classifier", "s-")):
    rs = [r for r in records if r["method"] == method]
    axes[0].plot([r["accuracy"] for r in rs], [r["frechet"] for r in rs], marker, label=method)
    for r in rs:
      axes[0].annotate(f"{r['scale']:g}", (r["accuracy"], r["frechet"]), fontsize=7)
    axes[1].plot([r["scale"] for r in rs], [r["diversity"] for r in rs], marker, label=method)
  axes[0].set_xlabel("accuracy (independent classifier)")
  axes[0].set_ylabel("Frechet distance (its features)")
  axes[1].set_xlabel("guidance scale (w or s)")
  axes[1].set_ylabel("within-class diversity / data's")
  for ax in axes:
    ax.legend()
  report.save(fig, path)


if __name__ == "__main__":
  main()
