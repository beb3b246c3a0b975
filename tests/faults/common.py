"""Helpers of the fault-injection suite: training runs in child processes we can kill."""

import os
import subprocess
import sys
import time

import jax

from vdmjax.config_files import load_config_file
from vdmjax.train.loop import Experiment

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(ROOT, "tests", "configs", "tiny_vdm.py")
# one device in the children (the parent restores their checkpoints on its own devices)
ENV = dict(os.environ, XLA_FLAGS="", JAX_PLATFORMS="cpu", PYTHONUNBUFFERED="1")


def train_cmd(workdir, *overrides, config=TINY):
  return [sys.executable, "-m", "vdmjax.main", f"--config={config}", f"--workdir={workdir}",
          "--mode=train", *overrides]


def run(workdir, *overrides, timeout=600, **kwargs):
  return subprocess.run(train_cmd(workdir, *overrides), cwd=ROOT, env=ENV, capture_output=True,
                        text=True, timeout=timeout, **kwargs)


def start(workdir, *overrides):
  return subprocess.Popen(train_cmd(workdir, *overrides), cwd=ROOT, env=ENV,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def logged_steps(workdir):
  path = os.path.join(workdir, "metrics.jsonl")
  if not os.path.exists(path):
    return 0
  with open(path) as f:
    return sum(1 for _ in f)


def wait_for_training(proc, workdir, before, timeout=120):
  """Block until the child logs a step beyond ``before`` lines (or exits)."""
  t0 = time.time()
  while proc.poll() is None and logged_steps(workdir) <= before and time.time() - t0 < timeout:
    time.sleep(0.05)


def restored_state(workdir, *overrides):
  """The train state of the newest complete checkpoint, restored in this process."""
  config = load_config_file(TINY)
  for o in overrides:
    key, value = o[len("--config."):].split("=")
    node = config
    *path, leaf = key.split(".")
    for p in path:
      node = node[p]
    node[leaf] = type(node[leaf])(value) if not isinstance(node[leaf], bool) else value == "True"
  exp = Experiment(config, workdir)
  step = exp.restore()
  return step, jax.device_get(exp.state)


def latest_checkpoint(workdir):
  """The newest complete checkpoint step (orbax renames a finished one to its step number)."""
  path = os.path.join(workdir, "checkpoints")
  steps = [int(d) for d in os.listdir(path) if d.isdigit()] if os.path.isdir(path) else []
  return max(steps, default=0)


def wait_for_new_checkpoint(proc, workdir, before, timeout=120):
  """Block until a checkpoint newer than step ``before`` is complete (or the child exits)."""
  t0 = time.time()
  while (proc.poll() is None and latest_checkpoint(workdir) <= before
         and time.time() - t0 < timeout):
    time.sleep(0.05)
