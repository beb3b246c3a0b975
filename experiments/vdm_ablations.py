"""VDM ablations on MNIST (Kingma et al. 2021, Sec. 5-6), each at one training budget and seed set.

    python experiments/vdm_ablations.py [--steps 250] [--seeds 0,1,2] [--eval_examples 500]

Every run trains configs/mnist_vdm.py (learnable_nnet schedule trained for low variance,
Fourier features, continuous time) at ``--n_embd`` channels (16 by default, half the demo's
width and a third of its step time, so that 18 runs fit ``make reproduce``'s budget) or one
change of it, for ``--steps`` steps with each seed:

  a. Fourier features on / off: held-out bits per dim (the paper: features improve likelihood).
  b. Learned schedule against the fixed linear one with the same initial end points: held-out
     bits per dim and the variance of the diffusion-loss estimator over t (per image, then
     averaged; the paper: same expected loss, lower variance).
  c. Continuous time against discrete T = 10, 100, 1000, each trained and evaluated with its
     own T (the paper: more steps, a better bound; continuous is the limit).
  d. Schedule invariance: each base run's denoiser evaluated under its learned schedule and
     under fixed linear and cosine schedules with the learned end points: the continuous
     diffusion loss (eq. 17) depends on the end points only, so the means must agree within
     their standard errors while the variances differ.

Per-variant values are means over seeds with the standard error over seeds (``*_se``); each
seed's own held-out estimate and its standard error over images are kept under ``per_seed``.
Writes results/vdm_ablations.{json,md,png}; runs resume from their checkpoints.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
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
from vdmjax.nets.schedule import NoiseSchedule  # noqa: E402
from vdmjax.run import write_config  # noqa: E402
from vdmjax.train.loop import Experiment  # noqa: E402

VARIANTS = {   # name -> (ablation, label, change of configs/mnist_vdm.py)
    "base": ("-", "learned schedule, Fourier, continuous", {}),
    "no_fourier": ("a", "Fourier features off", {"fourier": False}),
    "fixed_linear": ("b", "fixed linear schedule", {"schedule": "fixed"}),
    "T10": ("c", "discrete T = 10", {"T": 10}),
    "T100": ("c", "discrete T = 100", {"T": 100}),
    "T1000": ("c", "discrete T = 1000", {"T": 1000}),
}


STEPS, EVAL_EXAMPLES, N_EMBD = 250, 500, 16   # the defaults, also of likelihood_table.py


def variant_config(name, seed, steps=STEPS, eval_examples=EVAL_EXAMPLES, n_embd=N_EMBD):
  c = load_config_file(os.path.join(ROOT, "configs", "mnist_vdm.py"))
  c.model.score.n_embd = n_embd
  change = VARIANTS[name][2]
  if "fourier" in change:
    c.model.score.fourier = change["fourier"]
  if "schedule" in change:
    c.model.schedule.kind = change["schedule"]   # fixed: linear between gamma_min, gamma_max
  c.objective.T = change.get("T", 0)
  c.seed = seed
  c.train.update(num_steps=steps, checkpoint_every=steps, log_every=max(steps // 6, 1))
  c.eval.num_examples = eval_examples
  return c


def diffusion_draws(objective, params, images, rng, draws, batch=250):
  """(images, draws) array of the diffusion term (bits per dim). Each draw takes VDM's
  stratified times over the batch (t_i = u + i / B mod 1), so one image's t is still uniform
  and independent across draws (its variance over draws is the one-sample estimator's), while
  the batch covers the interval evenly (the end regions where a cosine-shaped schedule's
  gamma'(t) is large are visited in every draw)."""
  fn = jax.jit(jax.vmap(lambda p, x, r: objective.eval_terms(p, {"image": x}, r)["diffusion"],
                        in_axes=(None, None, 0), out_axes=1))
  out = []
  for i in range(0, len(images), batch):
    rngs = jax.random.split(jax.random.fold_in(rng, i), draws)
    out.append(np.asarray(fn(params, images[i:i + batch], rngs)))
  return np.concatenate(out)


def estimator_stats(values):
  """Mean diffusion loss with its standard error over images (conservative: it ignores the
  stratification), and the variance over t of one draw (per image, averaged over images)."""
  per_image = values.mean(axis=1)
  return {"mean": float(per_image.mean()),
          "mean_se": float(per_image.std(ddof=1) / math.sqrt(len(per_image))),
          "variance_over_t": float(values.var(axis=1, ddof=1).mean())}


def with_schedule(objective, params, shape, ends):
  """The objective and params with a fixed schedule of ``shape`` through end points ``ends``;
  the score network's parameters unchanged."""
  other = copy.copy(objective)
  other.schedule = NoiseSchedule(kind="fixed", fixed_shape=shape, gamma_min=float(ends[0]),
                                 gamma_max=float(ends[1]))
  return other, {"score": params["score"], "schedule": {}}


def mean_se(xs):
  xs = np.asarray(xs, np.float64)
  return float(xs.mean()), float(xs.std(ddof=1) / math.sqrt(len(xs))) if len(xs) > 1 else \
      float("nan")


def run(name, seed, args):
  config = variant_config(name, seed, args.steps, args.eval_examples, args.n_embd)
  workdir = os.path.join(args.workdir, f"{name}_seed{seed}")
  write_config(config, workdir)   # a run of other settings there is refused, keys named
  exp = Experiment(config, workdir)
  t0 = time.time()
  exp.train()
  train_s = time.time() - t0
  r = exp.evaluate(write=False)
  rec = {"variant": name, "seed": seed, "bpd": r["bpd"], "bpd_se": r["bpd_se"],
         "diffusion_bpd": r["diffusion"], "train_seconds_this_run": round(train_s, 1)}
  params = exp.params_for_eval()
  images = exp.eval_images[:args.variance_examples]
  rng = jax.random.PRNGKey(100 + seed)
  if name in ("base", "fixed_linear"):
    rec["estimator"] = estimator_stats(diffusion_draws(exp.objective, params, images, rng,
                                                       args.draws))
  if name == "base":
    ends = np.asarray(exp.objective.gamma_fn(params)(jnp.array([0.0, 1.0])))
    rec["gamma_ends"] = ends.tolist()
    rec["invariance"] = {"learned": rec["estimator"]}
    for shape in ("linear", "cosine"):
      obj, p = with_schedule(exp.objective, params, shape, ends)
      rec["invariance"][shape] = estimator_stats(diffusion_draws(obj, p, images, rng,
                                                                 args.draws))
  print(json.dumps(rec), flush=True)
  return rec


def summarise(runs):
  """Per-variant means over seeds with standard errors over seeds, and the paired difference
  to the base run of the same seed (the seed's data order and initialisation cancel)."""
  base = {r["seed"]: r["bpd"] for r in runs if r["variant"] == "base"}
  out = {}
  for name in VARIANTS:
    rs = [r for r in runs if r["variant"] == name]
    if not rs:
      continue
    s = {"ablation": VARIANTS[name][0], "label": VARIANTS[name][1],
         "seeds": [r["seed"] for r in rs]}
    s["bpd"], s["bpd_se"] = mean_se([r["bpd"] for r in rs])
    paired = [r["bpd"] - base[r["seed"]] for r in rs if r["seed"] in base]
    if name != "base" and len(paired) > 1:
      s["bpd_minus_base"], s["bpd_minus_base_se"] = mean_se(paired)
    if "estimator" in rs[0]:
      s["variance_over_t"], s["variance_over_t_se"] = mean_se(
          [r["estimator"]["variance_over_t"] for r in rs])
      s["diffusion_bpd"], s["diffusion_bpd_se"] = mean_se([r["estimator"]["mean"] for r in rs])
    if "invariance" in rs[0]:
      s["invariance"] = {}
      for shape in rs[0]["invariance"]:
        inv = [r["invariance"][shape] for r in rs]
        m, se = mean_se([v["mean"] for v in inv])
        var, var_se = mean_se([v["variance_over_t"] for v in inv])
        s["invariance"][shape] = {"diffusion_bpd": m, "diffusion_bpd_se": se,
                                  "variance_over_t": var, "variance_over_t_se": var_se}
    out[name] = s
  return out


def write_outputs(summary, runs, args):
  os.makedirs(args.out, exist_ok=True)
  with open(os.path.join(args.out, "vdm_ablations.json"), "w") as f:
    json.dump({"steps": args.steps, "n_embd": args.n_embd, "seeds": args.seeds,
               "eval_examples": args.eval_examples,
               "variance_examples": args.variance_examples, "draws": args.draws,
               "variants": summary, "per_seed": runs}, f, indent=2)
  pm = lambda m, se, d=3: f"{m:.{d}f} +- {se:.{d}f}"
  rows = [[s["ablation"], s["label"], pm(s["bpd"], s["bpd_se"]),
           pm(s["bpd_minus_base"], s["bpd_minus_base_se"]) if "bpd_minus_base" in s else "",
           pm(s["variance_over_t"], s["variance_over_t_se"], 4) if "variance_over_t" in s else ""]
          for s in summary.values()]
  report.write_table(os.path.join(args.out, "vdm_ablations.md"),
                     ["ablation", "variant", "held-out bits/dim", "minus base, paired by seed",
                      "Var_t of L_diffusion (bpd^2)"], rows)
  if "base" in summary:
    inv = summary["base"]["invariance"]
    rows = [[shape, pm(v["diffusion_bpd"], v["diffusion_bpd_se"]),
             pm(v["variance_over_t"], v["variance_over_t_se"], 4)] for shape, v in inv.items()]
    with open(os.path.join(args.out, "vdm_ablations.md"), "a") as f:
      f.write("\nd. Schedule invariance (base denoisers, learned end points):\n\n")
    lines = ["| schedule | diffusion loss (bits/dim) | Var_t (bpd^2) |", "| --- | --- | --- |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    with open(os.path.join(args.out, "vdm_ablations.md"), "a") as f:
      f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
  plt = report.pyplot()
  names = [n for n in ("T10", "T100", "T1000", "base") if n in summary]
  if names:
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    xs = [{"T10": 10, "T100": 100, "T1000": 1000, "base": 10_000}[n] for n in names]
    ax.errorbar(xs, [summary[n]["bpd"] for n in names], [summary[n]["bpd_se"] for n in names],
                fmt="o-", capsize=3)
    ax.set_xscale("log")
    ax.set_xticks(xs, [str(x) if x < 10_000 else "cont." for x in xs])
    ax.set(xlabel="T (training and evaluation)", ylabel="held-out bits/dim",
           title=f"VDM MNIST, {args.n_embd} ch, {args.steps} steps, {len(args.seeds)} seeds")
    report.save(fig, os.path.join(args.out, "vdm_ablations.png"))


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--steps", type=int, default=STEPS)
  p.add_argument("--n_embd", type=int, default=N_EMBD, help="score network channels")
  p.add_argument("--seeds", default="0,1,2")
  p.add_argument("--eval_examples", type=int, default=EVAL_EXAMPLES)
  p.add_argument("--variance_examples", type=int, default=200)
  p.add_argument("--draws", type=int, default=16, help="draws of t per image for the variance")
  p.add_argument("--variants", default=",".join(VARIANTS))
  p.add_argument("--workdir", default=os.path.join(ROOT, "runs", "vdm_ablations"))
  p.add_argument("--out", default=os.path.join(ROOT, "results"))
  p.add_argument("--render_only", action="store_true",
                 help="rewrite the outputs from the per-seed records of the existing JSON")
  args = p.parse_args()
  args.seeds = [int(s) for s in args.seeds.split(",")]
  if args.render_only:
    old = json.load(open(os.path.join(args.out, "vdm_ablations.json")))
    for k in ("steps", "seeds", "eval_examples", "variance_examples", "draws"):
      setattr(args, k, old[k])
    args.n_embd = old.get("n_embd", 32)   # records before the option were the demo's 32
    write_outputs(summarise(old["per_seed"]), old["per_seed"], args)
    return
  runs = []
  for name in args.variants.split(","):
    if name not in VARIANTS:
      raise SystemExit(f"--variants: {name!r} is not one of {', '.join(VARIANTS)}")
    for seed in args.seeds:
      runs.append(run(name, seed, args))
      write_outputs(summarise(runs), runs, args)   # partial results survive an interruption


if __name__ == "__main__":
  main()
