"""Render the seed papers' tables that vdmjax addresses, beside our figures, in markdown.

    python experiments/paper_tables.py [--results results] [--out results/paper_tables.md]

Each row gives the paper's number, ours at paper scale (read from results/paper_scale/*.json
when such a run exists) and our CPU-scale counterpart (read from the experiments' result
files), or 'not run'. Nothing here computes or invents a figure: a cell is a number read from
a results file or 'not run'.
"""

from __future__ import annotations

import argparse
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOT_RUN = "not run"

# (table, row, paper value, paper-scale result file and key)
PAPER = [
    ("VDM (Kingma et al. 2021), Table 1, bits/dim", "CIFAR-10, no augmentation", "2.65",
     "cifar10_vdm.json", "bpd"),
    ("VDM (Kingma et al. 2021), Table 1, bits/dim", "CIFAR-10, with augmentation", "2.49",
     "cifar10_vdm_aug.json", "bpd"),
    ("VDM (Kingma et al. 2021), Table 1, bits/dim", "ImageNet 32x32", "3.72",
     "imagenet32_vdm.json", "bpd"),
    ("VDM (Kingma et al. 2021), Table 1, bits/dim", "ImageNet 64x64", "3.40",
     "imagenet64_vdm.json", "bpd"),
    ("Improved DDPM (Nichol & Dhariwal 2021), NLL bits/dim", "CIFAR-10, L_vlb", "2.94",
     "cifar10_iddpm_vlb.json", "bpd"),
    ("Improved DDPM (Nichol & Dhariwal 2021), NLL bits/dim", "ImageNet 64x64, L_vlb", "3.53",
     "imagenet64_iddpm.json", "bpd"),
    ("ADM-G (Dhariwal & Nichol 2021), FID", "ImageNet 128x128, classifier scale 0.5", "2.97",
     "imagenet128_adm_g.json", "fid"),
    ("DD-GAN (Xiao et al. 2022), FID", "CIFAR-10, T = 4", "3.75", "cifar10_ddgan.json", "fid"),
]


def _load(path):
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def _fmt(value, se=None):
  if value is None:
    return NOT_RUN
  return f"{value:.3f}" + (f" +- {se:.3f}" if se is not None else "")


def paper_rows(results):
  lines = []
  current = None
  for table, row, paper, scale_file, key in PAPER:
    if table != current:
      lines += ["", f"### {table}", "", "| setting | paper | ours, paper scale |",
                "| --- | --- | --- |"]
      current = table
    rec = _load(os.path.join(results, "paper_scale", scale_file))
    ours = _fmt(rec.get(key), rec.get(f"{key}_se")) if rec else NOT_RUN
    lines.append(f"| {row} | {paper} | {ours} |")
  return lines


def cpu_rows(results):
  lines = ["", "## CPU-scale counterparts (MNIST, this project's 2-core machine)"]
  iddpm = _load(os.path.join(results, "iddpm_objectives.json"))
  lines += ["", "### Improved DDPM objectives and schedules (Tables 1-2): held-out NLL "
            "(bits/dim), exact bound", "",
            "| objective | schedule | variances | NLL |", "| --- | --- | --- | --- |"]
  lines += ([f"| {r['objective']} | {r.get('schedule', 'cosine')} | {r['var_type']} | "
             f"{_fmt(r['nll_bpd'], r['nll_bpd_se'])} |" for r in iddpm] if iddpm else
            [f"| {NOT_RUN} | | | |"])
  respacing = _load(os.path.join(results, "iddpm_respacing.json"))
  lines += ["", "### Improved DDPM: Frechet distance (MNIST classifier features) against "
            "sampling steps", "", "| variant | steps | Frechet |", "| --- | --- | --- |"]
  lines += ([f"| {r['variant']} | {r['sampling_steps']} | {r['frechet']:.1f} |"
             for r in respacing] if respacing else [f"| {NOT_RUN} | | |"])
  likelihood = _load(os.path.join(results, "likelihood_table.json"))
  lines += ["", "### Likelihoods: variational bound and probability-flow ODE (bits/dim)", "",
            "| model | VLB | ODE |", "| --- | --- | --- |"]
  lines += ([f"| {r['model']} | {_fmt(r['vlb_bpd'], r['vlb_bpd_se'])} | "
             f"{_fmt(r['ode_bpd'], r['ode_bpd_se'])} |" for r in likelihood]
            if likelihood else [f"| {NOT_RUN} | | |"])
  guidance = _load(os.path.join(results, "guidance_mnist.json"))
  lines += ["", "### Guidance trade-off (Ho & Salimans Table 1 / Dhariwal & Nichol Fig. 4)", "",
            "| method | scale | accuracy | Frechet | diversity |",
            "| --- | --- | --- | --- | --- |"]
  lines += ([f"| {r['method']} | {r['scale']:g} | {r['accuracy']:.3f} | {r['frechet']:.1f} | "
             f"{r['diversity']:.3f} |" for r in guidance] if guidance else
            [f"| {NOT_RUN} | | | | |"])
  lines += ddgan_rows(results)
  lines += vdm_ablation_rows(results)
  return lines


def vdm_ablation_rows(results):
  abl = _load(os.path.join(results, "vdm_ablations.json"))
  lines = ["", "### VDM ablations (Sec. 5-6): held-out bits/dim, mean +- SE over seeds", ""]
  if abl is None:
    return lines + [NOT_RUN]
  lines += [f"Score network of {abl.get('n_embd', 32)} channels, {abl['steps']} training steps "
            f"per run, seeds {abl['seeds']}.", "",
            "| ablation | variant | bits/dim | minus base (paired) | Var_t of the diffusion loss |",
            "| --- | --- | --- | --- | --- |"]
  for s in abl["variants"].values():
    var = (_fmt(s["variance_over_t"], s["variance_over_t_se"]) if "variance_over_t" in s
           else "")
    diff = (_fmt(s["bpd_minus_base"], s["bpd_minus_base_se"]) if "bpd_minus_base" in s
            else "")
    lines.append(f"| {s['ablation']} | {s['label']} | {_fmt(s['bpd'], s['bpd_se'])} | {diff} | "
                 f"{var} |")
  inv = abl["variants"].get("base", {}).get("invariance")
  if inv:
    lines += ["", "Schedule invariance (the base denoisers, schedules through the learned end "
              "points):", "", "| schedule | diffusion loss (bits/dim) | Var_t |",
              "| --- | --- | --- |"]
    lines += [f"| {k} | {_fmt(v['diffusion_bpd'], v['diffusion_bpd_se'])} | "
              f"{_fmt(v['variance_over_t'], v['variance_over_t_se'])} |" for k, v in inv.items()]
  return lines


def ddgan_rows(results):
  gauss = _load(os.path.join(results, "ddgan_25gaussians.json"))
  lines = ["", "### DD-GAN: 25 Gaussians (Figure 6)", "",
           "| sampler | T | modes covered (of 25) | high quality |", "| --- | --- | --- | --- |"]
  lines += ([f"| {r['model']} | {r['T'] or '-'} | {r['modes_covered']} | "
             f"{r['high_quality']:.3f} |" for r in gauss] if gauss else [f"| {NOT_RUN} | | | |"])
  ablation = _load(os.path.join(results, "ddgan_mnist.json"))
  lines += ["", "### DD-GAN: number of steps T (Table 2), MNIST, Frechet distance (classifier "
            "features)", "", "| T | train steps | Frechet |", "| --- | --- | --- |"]
  lines += ([f"| {r['T']} | {r['train_steps']} | {r['frechet']:.1f} |" for r in ablation]
            if ablation else [f"| {NOT_RUN} | | |"])
  timing = _load(os.path.join(results, "ddgan_sampling_time.json"))
  lines += ["", "### DD-GAN: sampling time against 1000-step ancestral sampling", "",
            "| batch | DD-GAN T=4 (s) | ancestral 1000 (s) | ratio |", "| --- | --- | --- | --- |"]
  lines.append(f"| {timing['batch']} | {timing['ddgan_seconds']:.3f} | "
               f"{timing['ancestral_seconds']:.1f} | {timing['ratio']:.0f} |" if timing else
               f"| {NOT_RUN} | | | |")
  stacked = [_load(os.path.join(results, f"ddgan_stackedmnist_{size}.json"))
             for size in ("cpu", "paper")]
  lines += ["", "### DD-GAN: StackedMNIST mode coverage (Table 4)", "",
            "| samples | size | train steps | modes (of 1000) | KL to uniform |",
            "| --- | --- | --- | --- | --- |"]
  rows = [r for recs in stacked if recs for r in recs]
  lines += ([f"| {r['model']} | {r.get('size', '-')} | {r.get('train_steps', '-')} | "
             f"{r['modes']} | {r['kl']:.4f} |" for r in rows] if rows else
            [f"| {NOT_RUN} | | | | |"])
  return lines


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--results", default=os.path.join(ROOT, "results"))
  p.add_argument("--out", default=None)
  args = p.parse_args()
  out = args.out or os.path.join(args.results, "paper_tables.md")
  lines = ["# The seed papers' tables and ours", "", "## Paper scale"]
  lines += paper_rows(args.results) + cpu_rows(args.results)
  with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")
  print("\n".join(lines))


if __name__ == "__main__":
  main()
