"""Expected wall-clock of every paper config on accelerators, from the FLOPs of its train step.

    python experiments/paper_wallclock.py [--mfu 0.4]

For each paper config the shared loop's train step is lowered (not run, not compiled) at the
config's global batch and image size with abstract inputs, its block stacks unrolled so that
XLA's cost analysis counts every layer; FLOPs per step x train.num_steps is the run's work.
Wall-clock = work / (peak bf16 FLOP/s of the device x ``--mfu``, the model-FLOPs utilisation
assumed), and work / the FLOP/s measured for the CIFAR-10 VDM step on one GPU
(benchmarks/accelerator.sh: the fastest `train_step_utilisation` record of preset cifar10_vdm
on a GPU in benchmarks/results.jsonl), which assumes every network reaches that step's rate.
Writes results/paper_wallclock.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "experiments"))

import report  # noqa: E402
from benchmarks.common import step_flops  # noqa: E402
from vdmjax.config_files import load_config_file  # noqa: E402

CONFIGS = {  # config -> image shape of its dataset
    "cifar10_vdm": (32, 32, 3), "imagenet32_vdm": (32, 32, 3), "imagenet64_vdm": (64, 64, 3),
    "cifar10_iddpm": (32, 32, 3), "cifar10_iddpm_vlb": (32, 32, 3),
    "imagenet64_iddpm": (64, 64, 3), "imagenet64_cfg": (64, 64, 3),
    "imagenet128_adm_g": (128, 128, 3), "imagenet128_classifier": (128, 128, 3),
    "cifar10_ddgan": (32, 32, 3),
}
# peak dense bf16 FLOP/s of one slice / host
DEVICES = {"TPU v3-8": 4 * 123e12, "TPU v4-8": 4 * 275e12, "8x A100": 8 * 312e12}


def config_flops(name, shape):
  """(FLOPs per train step, num_steps, batch) of configs/<name>.py."""
  c = load_config_file(os.path.join(ROOT, "configs", f"{name}.py"))
  return step_flops(c, shape), int(c.train.num_steps), c.train.batch_size


def measured_gpu_rate():
  """The fastest measured cifar10_vdm train step on a GPU: its utilisation record, or None."""
  path = os.path.join(ROOT, "benchmarks", "results.jsonl")
  if not os.path.exists(path):
    return None
  recs = [json.loads(line) for line in open(path)]
  recs = [r for r in recs if r["name"] == "train_step_utilisation"
          and r.get("preset") == "cifar10_vdm" and r["machine"]["backend"] == "gpu"]
  return max(recs, key=lambda r: r["achieved_flops_per_s"]) if recs else None


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--mfu", type=float, default=0.4)
  p.add_argument("--configs", default=",".join(CONFIGS))
  p.add_argument("--out", default=os.path.join(ROOT, "results"))
  args = p.parse_args()
  gpu = measured_gpu_rate()
  records = []
  for name in args.configs.split(","):
    flops, steps, batch = config_flops(name, CONFIGS[name])
    rec = {"config": name, "batch": batch, "num_steps": steps, "flops_per_step": flops,
           "total_flops": flops * steps, "mfu_assumed": args.mfu,
           "hours": {d: flops * steps / (peak * args.mfu) / 3600 for d, peak in DEVICES.items()}}
    if gpu:
      rec["hours_measured_gpu"] = flops * steps / gpu["achieved_flops_per_s"] / 3600
    print(json.dumps(rec), flush=True)
    records.append(rec)
  measured = None
  if gpu:
    measured = {k: gpu[k] for k in ("achieved_flops_per_s", "matmul_flops_per_s", "fraction",
                                    "dtype", "remat", "batch", "time")}
    measured["device_kind"] = gpu["machine"]["device_kind"]
  with open(os.path.join(args.out, "paper_wallclock.json"), "w") as f:
    json.dump({"records": records, "measured_gpu": measured}, f, indent=2)
  gpu_col = ([f"1x {measured['device_kind'].split()[1]} h at the measured "
              f"{measured['achieved_flops_per_s'] / 1e12:.0f} TFLOP/s"] if gpu else [])
  report.write_table(
      os.path.join(args.out, "paper_wallclock.md"),
      ["config", "batch", "steps", "TFLOP/step", "total EFLOP"] +
      [f"{d} h at {args.mfu:.0%} MFU" for d in DEVICES] + gpu_col,
      [[r["config"], r["batch"], f"{r['num_steps']:,}", f"{r['flops_per_step'] / 1e12:.2f}",
        f"{r['total_flops'] / 1e18:.1f}"] + [f"{r['hours'][d]:.0f}" for d in DEVICES] +
       ([f"{r['hours_measured_gpu']:.0f}"] if gpu else []) for r in records])


if __name__ == "__main__":
  main()
