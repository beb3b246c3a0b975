"""Train-loop overhead: the shared loop's time per step against the jitted step alone.

    python benchmarks/train_loop.py [--n_embd 32] [--batch 32] [--steps 40]

The loop (`Experiment.train`) adds the host's work around the jitted step: gathering and
sending the next batch, the finiteness check, metrics and checkpoints. Its time per step is
read from the loop's own `steps_per_s`, logged every N steps of a 5N-step run of
configs/mnist_vdm.py (at --n_embd channels and batch --batch; no checkpoint or eval inside a
window): the median of the windows after the first (which holds the compile). The step alone
is timed pipelined: N steps dispatched back to back on one device batch and a single block at
the end, so the device never waits for the host; two rounds before the loop and two after, the
median taken (on a shared 2-core machine the speed drifts between runs: rounds on both sides
keep the drift out of the ratio). Appends a `train_loop_overhead` record with `fraction` =
loop seconds per step / pipelined step seconds - 1 (about 0 when the loop keeps the device
busy; a per-step host round trip shows up here first on small steps and fast accelerators).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import jax

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.common import record, step_setup  # noqa: E402
from vdmjax.config_files import load_config_file  # noqa: E402
from vdmjax.train.loop import Experiment  # noqa: E402


def pipelined_rounds(config, steps, rounds):
  """A function that returns the seconds per step of each of ``rounds`` rounds of ``steps``
  jitted steps dispatched without a host sync between them (compiled once, up front)."""
  state, step_fn, device_batch = step_setup(config, (28, 28, 1))
  state, metrics = step_fn(state, device_batch)   # compile and warm up
  jax.block_until_ready(metrics)

  def run():
    nonlocal state, metrics
    seconds = []
    for _ in range(rounds):
      t0 = time.perf_counter()
      for _ in range(steps):
        state, metrics = step_fn(state, device_batch)
      jax.block_until_ready((state, metrics))
      seconds.append((time.perf_counter() - t0) / steps)
    return seconds

  return run


def loop_window_seconds(config, steps, windows):
  """Seconds per step of the loop in each logging window of ``steps`` steps after the first,
  in a fresh run of (windows + 1) * steps steps."""
  total = (windows + 1) * steps
  config.train.update(num_steps=total, log_every=steps, checkpoint_every=total,
                      eval_every=0, async_checkpoints=False)
  with tempfile.TemporaryDirectory() as workdir:
    Experiment(config, workdir).train()
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
      logged = [json.loads(line) for line in f]
  assert [m["step"] for m in logged] == [steps * (i + 1) for i in range(windows + 1)], logged
  return [1.0 / m["steps_per_s"] for m in logged[1:]]


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--n_embd", type=int, default=32)
  p.add_argument("--n_layer", type=int, default=2)
  p.add_argument("--batch", type=int, default=32)
  p.add_argument("--steps", type=int, default=40)
  args = p.parse_args()
  config = load_config_file(os.path.join(ROOT, "configs", "mnist_vdm.py"))
  config.model.score.update(n_embd=args.n_embd, n_layer=args.n_layer)
  config.train.batch_size = args.batch
  pipelined = pipelined_rounds(config, args.steps, rounds=2)
  step_rounds = pipelined()
  loop_windows = loop_window_seconds(config, args.steps, windows=4)
  step_rounds += pipelined()
  step_s, loop_s = statistics.median(step_rounds), statistics.median(loop_windows)
  record("train_loop_overhead", n_embd=args.n_embd, n_layer=args.n_layer, batch=args.batch,
         steps=args.steps, pipelined_step_s=step_s, loop_step_s=loop_s,
         pipelined_rounds_s=step_rounds, loop_windows_s=loop_windows,
         fraction=loop_s / step_s - 1.0)


if __name__ == "__main__":
  main()
