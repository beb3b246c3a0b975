"""Soak test: train for a long time with periodic evaluation, sampling and checkpointing, and
record the process's resident memory over time and the size of the checkpoint directory.

    python benchmarks/soak.py [--minutes 60] [--workdir runs/soak]

The target (issue: reliability): memory flat after warm-up (no growth from repeated eval,
sample or checkpoint calls) and the checkpoint directory bounded by train.keep_checkpoints.
The run ends by SIGTERM to itself after --minutes, exercising the preemption path too.
Appends a 'soak' record to benchmarks/results.jsonl.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

from common import record  # noqa: E402

from vdmjax.config_files import load_config_file  # noqa: E402
from vdmjax.train.loop import Experiment  # noqa: E402


def rss_mb():
  with open("/proc/self/status") as f:
    for line in f:
      if line.startswith("VmRSS:"):
        return int(line.split()[1]) / 1024.0
  return float("nan")


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--minutes", type=float, default=60.0)
  p.add_argument("--workdir", default=os.path.join(ROOT, "runs", "soak"))
  p.add_argument("--every_s", type=float, default=30.0, help="memory sampling period")
  p.add_argument("--checkpoint_every", type=int, default=50)
  p.add_argument("--eval_every", type=int, default=200)
  args = p.parse_args()
  c = load_config_file(os.path.join(ROOT, "configs", "mnist_vdm.py"))
  c.train.update(num_steps=10_000_000, checkpoint_every=args.checkpoint_every,
                 eval_every=args.eval_every, log_every=args.checkpoint_every, keep_checkpoints=3)
  c.eval.update(train_eval_examples=200)
  c.sample.update(num=16, steps=50)
  exp = Experiment(c, args.workdir)
  samples, stop = [], threading.Event()

  def sampler():
    t0 = time.time()
    while not stop.wait(args.every_s):
      ckpts = [d for d in os.listdir(exp.ckpt.dir) if d.isdigit()]
      samples.append((time.time() - t0, rss_mb(), len(ckpts)))
      print(f"soak t={samples[-1][0]:.0f}s rss={samples[-1][1]:.0f}MB checkpoints={len(ckpts)}",
            flush=True)

  threading.Thread(target=sampler, daemon=True).start()
  threading.Timer(args.minutes * 60, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()
  t0 = time.time()
  steps = exp.train()
  stop.set()
  warm = [s for s in samples if s[0] >= min(600.0, args.minutes * 60 / 3)]
  rec = {"minutes": (time.time() - t0) / 60, "steps": steps,
         "checkpoint_every": args.checkpoint_every, "eval_every": args.eval_every,
         "evals": sum(f.endswith(".png") for f in os.listdir(os.path.join(args.workdir,
                                                                         "samples")))
         if os.path.isdir(os.path.join(args.workdir, "samples")) else 0,
         "rss_mb_after_warmup": warm[0][1] if warm else None,
         "rss_mb_end": samples[-1][1] if samples else None,
         "rss_mb_max": max(s[1] for s in samples) if samples else None,
         "max_checkpoint_dirs": max(s[2] for s in samples) if samples else None,
         "keep_checkpoints": c.train.keep_checkpoints,
         "rss_series_mb": [(round(t), round(m)) for t, m, _ in samples[::10]]}
  record("soak", **rec)


if __name__ == "__main__":
  main()
