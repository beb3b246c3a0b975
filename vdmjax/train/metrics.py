"""Metrics to metrics.jsonl and TensorBoard event files, and a progress display."""

from __future__ import annotations

import json
import os
import sys
import time


class MetricWriter:
  def __init__(self, workdir, enabled=True):
    self.enabled = enabled
    if not enabled:
      return
    os.makedirs(workdir, exist_ok=True)
    self.jsonl = open(os.path.join(workdir, "metrics.jsonl"), "a")
    from tensorboardX import SummaryWriter
    self.tb = SummaryWriter(os.path.join(workdir, "tensorboard"))

  def write(self, step, scalars, prefix="train"):
    if not self.enabled:
      return
    scalars = {k: float(v) for k, v in scalars.items()}
    self.jsonl.write(json.dumps({"step": int(step), "split": prefix, **scalars}) + "\n")
    self.jsonl.flush()
    for k, v in scalars.items():
      self.tb.add_scalar(f"{prefix}/{k}", v, int(step))
    self.tb.flush()

  def close(self):
    if self.enabled:
      self.jsonl.close()
      self.tb.close()


class Progress:
  """tqdm bar on an interactive terminal; plain periodic lines (steps/s, ETA) in logs."""

  def __init__(self, start, total, every=50, desc="train"):
    self.start, self.total, self.every, self.desc = start, total, every, desc
    self.t0, self.last_step, self.last_t = time.time(), start, time.time()
    self.bar = None
    if sys.stderr.isatty():
      from tqdm import tqdm
      self.bar = tqdm(total=total, initial=start, desc=desc, dynamic_ncols=True)

  def update(self, step, info=""):
    if self.bar is not None:
      self.bar.update(step - self.bar.n)
      if info:
        self.bar.set_postfix_str(info)
      return
    if step % self.every == 0 or step == self.total:
      now = time.time()
      rate = (step - self.last_step) / max(now - self.last_t, 1e-9)
      eta = (self.total - step) / max(rate, 1e-9)
      print(f"{self.desc} step {step}/{self.total} {rate:.2f} steps/s eta {eta:.0f}s {info}",
            flush=True)
      self.last_step, self.last_t = step, now

  def close(self):
    if self.bar is not None:
      self.bar.close()
