"""Checkpoints through orbax: asynchronous, atomic, the last N kept, plus the best one.

A checkpoint holds the whole train state (params, optimizer state, EMA params, step, PRNG key);
the data position is the step. Restoring tries the newest checkpoint first and falls back to
older complete ones, naming each one it had to skip; it never silently starts from scratch.
"""

from __future__ import annotations

import logging
import os

import orbax.checkpoint as ocp


class CheckpointError(RuntimeError):
  """A checkpoint problem stated in one line."""


def _first_line(error):
  return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


class Checkpoints:
  def __init__(self, workdir, keep=3, async_save=True):
    self.dir = os.path.abspath(os.path.join(workdir, "checkpoints"))
    self.best_dir = os.path.abspath(os.path.join(workdir, "checkpoints_best"))
    self.manager = ocp.CheckpointManager(self.dir, options=ocp.CheckpointManagerOptions(
        max_to_keep=keep, enable_async_checkpointing=async_save))
    self.best = ocp.CheckpointManager(self.best_dir, options=ocp.CheckpointManagerOptions(
        max_to_keep=1, best_fn=lambda m: m["value"], best_mode="min",
        keep_checkpoints_without_metrics=False, enable_async_checkpointing=async_save))

  def save(self, step, state, force=False):
    # an asynchronous write that failed (a full disk, a write error) surfaces here, at the
    # next save, or in wait(); its directory keeps orbax's tmp name, so it is never complete
    try:
      self.manager.save(int(step), args=ocp.args.StandardSave(state), force=force)
    except (OSError, ValueError, RuntimeError) as e:
      raise CheckpointError(f"writing a checkpoint (step {step} or the one before it) under "
                            f"{self.dir} failed: {_first_line(e)}") from None

  def save_best(self, step, state, value):
    """Keep ``state`` if ``value`` (a held-out metric, lower is better) is the best so far."""
    self.best.save(int(step), args=ocp.args.StandardSave(state), metrics={"value": float(value)})

  def wait(self):
    try:
      self.manager.wait_until_finished()
      self.best.wait_until_finished()
    except (OSError, ValueError, RuntimeError) as e:
      raise CheckpointError(f"finishing a checkpoint under {self.dir} failed: "
                            f"{_first_line(e)}") from None

  def steps(self):
    return sorted(self.manager.all_steps())

  def restore(self, template, step=None):
    """(state, step) of the newest restorable checkpoint (or ``step``), else (None, None)."""
    candidates = [step] if step is not None else self.steps()[::-1]
    if step is not None and step not in self.steps():
      raise CheckpointError(f"no checkpoint {step} under {self.dir} (have {self.steps()})")
    for s in candidates:
      try:
        state = self.manager.restore(s, args=ocp.args.StandardRestore(template))
        return state, s
      except Exception as e:  # orbax raises many types for damaged files
        msg = str(e).split("\n")[0][:200]
        if step is not None or s == candidates[-1]:
          raise CheckpointError(f"checkpoint {s} under {self.dir} is unreadable: {msg}") from None
        logging.warning("checkpoint %d under %s is unreadable (%s); trying the previous one",
                        s, self.dir, msg)
        print(f"warning: checkpoint {s} is unreadable ({msg}); falling back to an older one",
              flush=True)
    return None, None

  def close(self):
    self.manager.close()
    self.best.close()
