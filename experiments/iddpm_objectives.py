"""Improved DDPM on MNIST: exact NLL after one fixed CPU budget for L_simple, L_hybrid, L_vlb,
with the cosine and the linear noise schedule.

    python experiments/iddpm_objectives.py [--steps 500] [--eval_examples 100] [--T 250] \
        [--runs simple,hybrid,vlb,simple_linear,hybrid_linear]

The paper's claims (Nichol & Dhariwal 2021, Sec. 3, Tables 1-2): learned variances trained with
the hybrid objective or L_vlb give a better log-likelihood than L_simple with fixed variances,
and the cosine schedule a better one than the linear schedule. Each model is trained from
configs/mnist_iddpm.py with the same steps, batch and seed, then evaluated with the exact
T-term bound (bpd_loop) on the same held-out images. A run's record is kept in its workdir
(record.json), so a rerun evaluates only new runs. Writes results/iddpm_objectives.json
(records with `objective`, `schedule`, `nll_bpd`, `nll_bpd_se`, ...) and
results/iddpm_objectives.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from vdmjax.config_files import load_config_file  # noqa: E402
from vdmjax.run import write_config  # noqa: E402
from vdmjax.train.loop import Experiment  # noqa: E402

VARIANTS = {
    # L_simple with DDPM's fixed variance beta~ (the network outputs eps only)
    "simple": dict(loss="simple", var_type="fixed_small", timestep_sampler="uniform",
                   learn_sigma=False),
    "hybrid": dict(loss="hybrid", var_type="learned_range", timestep_sampler="uniform",
                   learn_sigma=True),
    "vlb": dict(loss="vlb", var_type="learned_range", timestep_sampler="importance",
                learn_sigma=True),
}


def variant_config(name, steps, T):
  """configs/mnist_iddpm.py with one objective of VARIANTS, ``steps`` steps and T; a name
  ending in '_linear' takes the linear schedule instead of the cosine one."""
  objective, _, schedule = name.partition("_")
  v = VARIANTS[objective]
  c = load_config_file(os.path.join(ROOT, "configs", "mnist_iddpm.py"))
  c.objective.update(loss=v["loss"], var_type=v["var_type"],
                     timestep_sampler=v["timestep_sampler"], T=T, schedule=schedule or "cosine")
  c.model.net.learn_sigma = v["learn_sigma"]
  c.train.num_steps = steps
  return c


def run(name, args):
  """Train (or resume) and evaluate one run; its record is cached in the workdir."""
  workdir = os.path.join(args.workdir, name)
  cached = os.path.join(workdir, "record.json")
  settings = {"steps": args.steps, "T": args.T, "num_examples": args.eval_examples}
  if os.path.exists(cached):
    rec = json.load(open(cached))
    if all(rec.get(k) == v for k, v in settings.items()):
      return rec
  c = variant_config(name, args.steps, args.T)
  c.eval.num_examples = args.eval_examples
  write_config(c, workdir)   # a run of other settings there is refused, keys named
  exp = Experiment(c, workdir)
  t0 = time.time()
  exp.train()
  train_s = time.time() - t0
  t0 = time.time()
  r = exp.evaluate(write=False)
  v = VARIANTS[name.partition("_")[0]]
  rec = {"run": name, "objective": name.partition("_")[0], "schedule": c.objective.schedule,
         "T": c.objective.T, "var_type": v["var_type"],
         "timestep_sampler": v["timestep_sampler"], "steps": args.steps,
         "batch_size": c.train.batch_size, "nll_bpd": r["bpd"], "nll_bpd_se": r["bpd_se"],
         "prior_bpd": r["prior"], "recon_bpd": r["recon"], "diffusion_bpd": r["diffusion"],
         "num_examples": r["num_examples"], "train_seconds": train_s,
         "eval_seconds": time.time() - t0}
  with open(cached + ".tmp", "w") as f:
    json.dump(rec, f, indent=2)
  os.replace(cached + ".tmp", cached)
  return rec


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--steps", type=int, default=500)
  p.add_argument("--eval_examples", type=int, default=100)
  p.add_argument("--T", type=int, default=250, help="diffusion steps (the exact bound costs T "
                 "network calls per batch)")
  p.add_argument("--runs", default="simple,hybrid,vlb,simple_linear,hybrid_linear")
  p.add_argument("--workdir", default=os.path.join(ROOT, "runs", "iddpm_objectives"))
  p.add_argument("--out", default=os.path.join(ROOT, "results"))
  args = p.parse_args()
  records = []
  for name in args.runs.split(","):
    if name.partition("_")[0] not in VARIANTS or name.partition("_")[2] not in ("", "linear"):
      raise SystemExit(f"--runs: {name!r} is not an objective of {', '.join(VARIANTS)}, "
                       "optionally with '_linear'")
    rec = run(name, args)
    print(json.dumps(rec), flush=True)
    records.append(rec)
  os.makedirs(args.out, exist_ok=True)
  with open(os.path.join(args.out, "iddpm_objectives.json"), "w") as f:
    json.dump(records, f, indent=2)
  lines = ["| objective | schedule | variances | t sampling | NLL (bits/dim) | train s | eval s |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
  for r in records:
    lines.append(f"| {r['objective']} | {r['schedule']} | {r['var_type']} | "
                 f"{r['timestep_sampler']} | "
                 f"{r['nll_bpd']:.3f} +- {r['nll_bpd_se']:.3f} | {r['train_seconds']:.0f} | "
                 f"{r['eval_seconds']:.0f} |")
  with open(os.path.join(args.out, "iddpm_objectives.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
  print("\n".join(lines))


if __name__ == "__main__":
  main()
