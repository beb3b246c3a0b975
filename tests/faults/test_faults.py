"""Fault injection: kills, preemption, damaged checkpoints, non-finite steps, a full disk,
two runs on one workdir, determinism across processes, and no code execution on load."""

import os
import re
import resource
import signal
import subprocess
import time

import jax
import numpy as np
import pytest

from tests.faults import common
from vdmjax.config_files import load_config_file
from vdmjax.train.checkpoint import CheckpointError, Checkpoints
from vdmjax.train.loop import Experiment, NonFiniteError

LONG = ("--config.train.num_steps=150", "--config.train.checkpoint_every=1",
        "--config.train.log_every=1", "--config.train.keep_checkpoints=3")


def _assert_same_state(a, b):
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_array_equal(x, y)


# twenty kills cost about 21 process starts (15 min on a loaded 2-core machine): the default
# suite kills four times, `make test-slow` twenty
@pytest.mark.parametrize("kills", [4, pytest.param(20, marks=pytest.mark.slow)])
def test_sigkill_repeatedly_resumes_to_the_uninterrupted_result(tmp_path, kills):
  ref = common.run(str(tmp_path / "ref"), *LONG)
  assert ref.returncode == 0, ref.stdout[-2000:] + ref.stderr[-2000:]
  wd = str(tmp_path / "killed")
  rng = np.random.default_rng(0)
  for kill in range(kills):
    before, saved = common.logged_steps(wd), common.latest_checkpoint(wd)
    proc = common.start(wd, *LONG)
    # most kills land in training (inside asynchronous checkpoint writes: one per step), every
    # fifth during start-up and restore; every other one waits for a new complete checkpoint
    # first, so that the run makes progress however slow the machine
    if (kill + 1) % min(5, kills) != 0:
      common.wait_for_training(proc, wd, before)
      if kill % 2 == 0:
        common.wait_for_new_checkpoint(proc, wd, saved)
    time.sleep(rng.uniform(0.0, 0.5))
    assert proc.poll() is None, f"the run finished before kill {kill}: " + proc.stdout.read()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
  final = common.run(wd, *LONG)
  assert final.returncode == 0, final.stdout[-2000:] + final.stderr[-2000:]
  assert "resuming from checkpoint" in final.stdout
  step_ref, state_ref = common.restored_state(str(tmp_path / "ref"), *LONG)
  step, state = common.restored_state(wd, *LONG)
  assert step == step_ref == 150
  _assert_same_state(state, state_ref)


def test_sigterm_checkpoints_and_exits_zero_within_the_grace_period(tmp_path):
  wd = str(tmp_path / "run")
  overrides = ("--config.train.num_steps=100000", "--config.train.checkpoint_every=100000",
               "--config.train.log_every=1")
  proc = common.start(wd, *overrides)
  common.wait_for_training(proc, wd, 2)
  t0 = time.time()
  proc.send_signal(signal.SIGTERM)
  out, _ = proc.communicate(timeout=30)
  assert proc.returncode == 0, out[-2000:]
  assert time.time() - t0 < 30
  match = re.search(r"received signal 15: checkpointing step (\d+)", out)
  assert match, out[-2000:]
  step, _ = common.restored_state(wd, *overrides)
  assert step == int(match.group(1)) > 0


def _tiny(**train):
  config = load_config_file(common.TINY)
  config.train.update(**train)
  return config


def test_damaged_latest_checkpoint_is_named_and_the_previous_one_used(tmp_path, capsys):
  wd = str(tmp_path)
  Experiment(_tiny(num_steps=6, checkpoint_every=3), wd).train()
  for root, _, files in os.walk(os.path.join(wd, "checkpoints", "6")):
    for name in files:                      # truncate every file of the newest checkpoint
      path = os.path.join(root, name)
      with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
  exp = Experiment(_tiny(num_steps=6, checkpoint_every=3), wd)
  assert exp.restore() == 3 and int(exp.state["step"]) == 3
  assert "checkpoint 6 is unreadable" in capsys.readouterr().out
  for root, _, files in os.walk(os.path.join(wd, "checkpoints", "3")):
    for name in files:
      with open(os.path.join(root, name), "wb") as f:
        f.write(b"\0")
  # nothing restorable is an error naming the checkpoint, never a silent fresh start
  with pytest.raises(CheckpointError, match="checkpoint 3 under .* is unreadable"):
    Experiment(_tiny(num_steps=6, checkpoint_every=3), wd).restore()


def test_nonfinite_step_stops_with_its_number_and_keeps_the_last_good_checkpoint(tmp_path):
  wd = str(tmp_path / "stop")
  exp = Experiment(_tiny(num_steps=6, checkpoint_every=2, fault_nan_step=4), wd)
  with pytest.raises(NonFiniteError, match=r"non-finite loss at step 4 .*last good checkpoint "
                     r"is 2"):
    exp.train()
  assert Checkpoints(wd).steps() == [2]
  state = Experiment(_tiny(num_steps=6), wd)
  assert state.restore() == 2
  assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(jax.device_get(
      state.state["params"])))

  wd = str(tmp_path / "skip")
  exp = Experiment(_tiny(num_steps=6, checkpoint_every=2, log_every=1, fault_nan_step=4,
                         on_nonfinite="skip"), wd)
  assert exp.train() == 6
  import json
  lines = [json.loads(line) for line in open(os.path.join(wd, "metrics.jsonl"))]
  assert lines[-1]["skipped_steps"] == 1 and lines[2]["skipped_steps"] == 0
  assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(jax.device_get(exp.state)))


def test_nonfinite_step_between_logs_is_caught_one_step_later_under_its_own_number(tmp_path):
  # the loop reads a step's finiteness while the next step runs (no host round trip per
  # step): a NaN at step 3, neither a log nor a checkpoint step, still stops the run before
  # anything after it is logged or saved, and names step 3
  wd = str(tmp_path / "stop")
  exp = Experiment(_tiny(num_steps=8, checkpoint_every=2, log_every=4, fault_nan_step=3), wd)
  with pytest.raises(NonFiniteError, match=r"non-finite loss at step 3 .*last good checkpoint "
                     r"is 2"):
    exp.train()
  assert Checkpoints(wd).steps() == [2]

  wd = str(tmp_path / "skip")
  exp = Experiment(_tiny(num_steps=8, checkpoint_every=8, log_every=4, fault_nan_step=3,
                         on_nonfinite="skip"), wd)
  assert exp.train() == 8
  import json
  lines = [json.loads(line) for line in open(os.path.join(wd, "metrics.jsonl"))]
  assert [(r["step"], r["skipped_steps"]) for r in lines if r.get("split") == "train"] == [
      (4, 1), (8, 1)]


def _full_disk():
  # files can grow to 60 kB: config and metrics fit, a checkpoint's arrays do not
  resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))
  signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_full_disk_is_a_clear_error_and_no_partial_checkpoint_counts(tmp_path):
  wd = str(tmp_path / "run")
  r = common.run(wd, preexec_fn=_full_disk)
  assert r.returncode != 0
  last = r.stderr.strip().splitlines()[-1]
  assert last.startswith("error: writing a checkpoint") and "checkpoints" in last, last
  assert Checkpoints(wd).steps() == []     # the failed write left only orbax's tmp directory
  again = common.run(wd)
  assert again.returncode == 0 and "resuming" not in again.stdout, again.stderr[-2000:]
  assert Checkpoints(wd).steps()[-1] == 6


def test_a_second_run_on_a_busy_workdir_is_refused(tmp_path):
  wd = str(tmp_path / "run")
  first = common.start(wd, "--config.train.num_steps=100000", "--config.train.log_every=1",
                       "--config.train.checkpoint_every=100000")
  try:
    common.wait_for_training(first, wd, 0)
    second = common.run(wd, "--config.train.num_steps=100000", "--config.train.log_every=1",
                        "--config.train.checkpoint_every=100000")
    assert second.returncode != 0
    last = second.stderr.strip().splitlines()[-1]
    assert f"workdir {wd} is in use by another training run (pid {first.pid})" in last, last
  finally:
    first.kill()
    first.wait()


def test_same_config_and_seed_give_bitwise_identical_parameters_across_processes(tmp_path):
  runs = [subprocess.Popen(common.train_cmd(str(tmp_path / f"run{i}")), cwd=common.ROOT,
                           env=common.ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True) for i in range(2)]
  for proc in runs:
    assert proc.wait(timeout=600) == 0, proc.stderr.read()[-2000:]
  (s0, a), (s1, b) = [common.restored_state(str(tmp_path / f"run{i}")) for i in range(2)]
  assert s0 == s1 == 6
  _assert_same_state(a, b)


FORBIDDEN = re.compile(r"\bimport pickle\b|\bcloudpickle\b|\bdill\b|allow_pickle\s*=\s*True|"
                       r"\bpickle\.load|yaml\.load\(|\btorch\.load\b|\beval\(|\bexec\(")


def test_no_load_path_can_execute_code_from_a_file():
  """Checkpoints load through orbax only, caches as msgpack, configs saved as JSON; nothing
  in the package unpickles, evals or execs data."""
  offenders = []
  for root, _, files in os.walk(os.path.join(common.ROOT, "vdmjax")):
    for name in files:
      if name.endswith(".py"):
        path = os.path.join(root, name)
        for i, line in enumerate(open(path), 1):
          if FORBIDDEN.search(line):
            offenders.append(f"{os.path.relpath(path, common.ROOT)}:{i}: {line.strip()}")
  assert not offenders, offenders


def test_sigterm_at_a_checkpoint_step_saves_once(tmp_path):
  """The preemption save must not collide with the periodic checkpoint of the same step."""
  wd = str(tmp_path)
  exp = Experiment(_tiny(num_steps=6, checkpoint_every=2), wd)
  step_fn = exp.ckpt.save

  def save_then_signal(step, state, force=False):   # SIGTERM arrives during step 4's save
    step_fn(step, state, force)
    if step == 4:
      os.kill(os.getpid(), signal.SIGTERM)

  exp.ckpt.save = save_then_signal
  assert exp.train() == 4
  assert Checkpoints(wd).steps()[-1] == 4
