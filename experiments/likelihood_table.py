"""The MNIST models' likelihoods two ways: each model's own variational bound and the exact
likelihood of its probability-flow ODE (the 'continuous normalizing flow' row of VDM's
Table 1), side by side with standard errors and evaluation times.

    python experiments/likelihood_table.py [--num_examples 64]

Models, shared with the experiments that train them (trained here if their workdirs hold no
final checkpoint):
- vdm_learned: the seed-0 base run of experiments/vdm_ablations.py (configs/mnist_vdm.py at
  16 channels: learnable_nnet schedule, variance-minimising, Fourier features, 250 steps);
- vdm_fixed: its fixed-linear-schedule run (ablation b, seed 0);
- iddpm_hybrid: the hybrid-loss model of experiments/iddpm_objectives.py (T = 250).
The bound is VDM's continuous-time VLB or Improved DDPM's exact T-term bound (bpd_loop); the
ODE likelihood uses adaptive Tsit5 (rtol = atol = --rtol, 1e-5 by default), one Rademacher
probe per image and
uniform dequantization, in bits per dim on the 8-bit grid. Both run on the same first
held-out images. Writes results/likelihood_table.json and results/likelihood_table.md.
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

import iddpm_objectives  # noqa: E402
import vdm_ablations  # noqa: E402
from vdmjax.train.loop import Experiment  # noqa: E402

MODELS = {   # name -> (config, workdir under runs/)
    "vdm_learned": (lambda: vdm_ablations.variant_config("base", 0), "vdm_ablations/base_seed0"),
    "vdm_fixed": (lambda: vdm_ablations.variant_config("fixed_linear", 0),
                  "vdm_ablations/fixed_linear_seed0"),
    "iddpm_hybrid": (lambda: iddpm_objectives.variant_config("hybrid", 500, 250),
                     "iddpm_objectives/hybrid"),
}


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--num_examples", type=int, default=64)
  p.add_argument("--models", default=",".join(MODELS))
  p.add_argument("--rtol", type=float, default=1e-5, help="ODE solver tolerance (rtol = atol)")
  p.add_argument("--out", default=os.path.join(ROOT, "results"))
  args = p.parse_args()
  models = args.models.split(",")
  results = os.path.join(args.out, "likelihood_table.json")
  # records of other (model, tolerance) pairs are kept, so models can be run one at a time
  records = []
  if os.path.exists(results):
    with open(results) as f:
      records = [r for r in json.load(f)
                 if (r["model"], r.get("ode_rtol")) not in {(m, args.rtol) for m in models}]
  for name in models:
    make_config, rel = MODELS[name]
    c = make_config()
    c.eval.update(num_examples=args.num_examples, batch_size=args.num_examples)
    c.eval.ode.update(rtol=args.rtol, atol=args.rtol)
    exp = Experiment(c, os.path.join(ROOT, "runs", rel))
    t0 = time.time()
    exp.train()
    train_s = time.time() - t0
    rec = {"model": name, "train_steps": int(exp.state["step"]), "train_seconds": train_s,
           "num_examples": args.num_examples, "ode_rtol": args.rtol}
    for method in ("vlb", "ode"):
      exp.config.eval.method = method
      t0 = time.time()
      r = exp.evaluate(write=False)
      rec.update({f"{method}_bpd": r["bpd"], f"{method}_bpd_se": r["bpd_se"],
                  f"{method}_seconds": time.time() - t0})
      if method == "ode":
        rec["ode_nfe"] = r["nfe"]
    print(json.dumps(rec), flush=True)
    records.append(rec)
    os.makedirs(args.out, exist_ok=True)
    with open(results, "w") as f:
      json.dump(records, f, indent=2)
  lines = ["| model | images | VLB (bits/dim) | ODE (bits/dim) | ODE rtol | ODE NFE | VLB s | "
           "ODE s |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
  lines += [f"| {r['model']} | {r['num_examples']} | {r['vlb_bpd']:.3f} +- "
            f"{r['vlb_bpd_se']:.3f} | {r['ode_bpd']:.3f} +- {r['ode_bpd_se']:.3f} | "
            f"{r.get('ode_rtol', 1e-5):g} | {r['ode_nfe']:.0f} | {r['vlb_seconds']:.0f} | "
            f"{r['ode_seconds']:.0f} |" for r in records]
  with open(os.path.join(args.out, "likelihood_table.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
  print("\n".join(lines))


if __name__ == "__main__":
  main()
