"""The shared loop: data parallelism, resume, checkpoints, and the command line."""

import json
import os
import re
import subprocess
import sys

import jax
import numpy as np
import pytest

from tests.configs.tiny_vdm import get_config
from tests.resume import full_and_resumed
from vdmjax.dispatch import fetched_one_behind
from vdmjax.train.loop import Experiment, make_train_step, shard_batch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _params(exp):
  return jax.tree.leaves(jax.device_get(exp.state["params"]))


def test_data_parallel_step_equals_single_device(tmp_path):
  assert len(jax.devices()) == 8
  results = []
  for ndev in (1, 8):
    c = get_config()
    c.train.num_steps, c.train.num_devices = 2, ndev
    # Adam turns float noise in gradients the loss is invariant to into full-size steps; a
    # large eps keeps such steps small so that the comparison sees the computation itself
    c.optim.eps = 1e-3
    exp = Experiment(c, str(tmp_path / f"dev{ndev}"))
    exp.train()
    results.append(_params(exp))
  for a, b in zip(*results):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_resume_reproduces_the_uninterrupted_trajectory(tmp_path):
  full, resumed = full_and_resumed(get_config, tmp_path)
  assert int(resumed.state["step"]) == 6
  for a, b in zip(_params(full), _params(resumed)):
    np.testing.assert_array_equal(a, b)
  lines = [json.loads(l) for l in open(tmp_path / "full" / "metrics.jsonl")]
  assert {"loss", "bpd", "prior", "recon", "diffusion", "grad_norm", "lr", "steps_per_s"} <= set(
      lines[-1])
  assert os.listdir(tmp_path / "full" / "tensorboard")


def _cli(*args, workdir):
  cmd = [sys.executable, "-m", "vdmjax.main", "--config=tests/configs/tiny_vdm.py",
         f"--workdir={workdir}", *args]
  env = dict(os.environ, XLA_FLAGS="")
  return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)


def test_cli_train_eval_sample(tmp_path):
  wd = str(tmp_path / "run")
  r = _cli("--mode=train", workdir=wd)
  assert r.returncode == 0, r.stderr[-2000:]
  assert os.path.exists(os.path.join(wd, "config.json"))
  r = _cli("--mode=eval", "--config.eval.num_examples=16", workdir=wd)
  assert r.returncode == 0, r.stderr[-2000:]
  assert "held-out bpd (vlb):" in r.stdout
  result = json.load(open(os.path.join(wd, "eval", "step_6.json")))
  assert {"bpd", "bpd_se", "prior", "recon", "diffusion", "step", "num_examples"} <= set(result)
  assert result["num_examples"] == 16 and result["step"] == 6
  r = _cli("--mode=sample", workdir=wd)
  assert r.returncode == 0, r.stderr[-2000:]
  assert os.path.exists(os.path.join(wd, "samples", "step_6.png"))
  assert np.load(os.path.join(wd, "samples", "step_6.npz"))["images"].shape == (4, 28, 28, 1)
  # a second train run on the same workdir resumes (and has nothing left to do)
  r = _cli("--mode=train", "--config.train.num_steps=8", workdir=wd)
  assert r.returncode == 0 and "resuming from checkpoint 6" in r.stdout, r.stderr[-2000:]
  # corrupt every file of the newest checkpoint: the run names it and falls back
  for root, _, files in os.walk(os.path.join(wd, "checkpoints", "8")):
    for f in files:
      with open(os.path.join(root, f), "wb") as fh:
        fh.write(b"garbage")
  r = _cli("--mode=eval", "--config.eval.num_examples=8", workdir=wd)
  assert r.returncode == 0, r.stderr[-2000:]
  assert "checkpoint 8 is unreadable" in r.stdout and "at step 6" in r.stdout


@pytest.mark.parametrize("config,override,message", [
    ("tiny_vdm", "--config.train.bach_size=3", 'Did you mean "batch_size"'),
    ("tiny_vdm", "--config.data.name=no_such_dataset", "data.name 'no_such_dataset'"),
    ("tiny_vdm", "--config.model.score.gamma_min=6.0", "gamma_min (6.0) must be below gamma_max"),
    ("tiny_vdm", "--config.objective.T=-1", "objective.T must be >= 0"),
    ("tiny_vdm", "--config.train.batch_size=7",
     "train.batch_size = 7 is not divisible by the 8 devices"),
    ("tiny_iddpm", "--config.model.net.channel_mult=(1,2,2,2)",
     "image size 28x28 does not fit a U-Net of 4 levels"),
    ("tiny_cfg", "--config.model.net.num_classes=5",
     "labels span 0..9, outside the model's num_classes = 5"),
    ("tiny_vdm", "--guidance_scale=2.0", "give one (w = scale - 1)"),
])
def test_bad_input_stops_with_one_clear_line(tmp_path, config, override, message):
  if "guidance" in override:   # sample mode, given both a weight and a scale
    override = f"{override} --mode=sample --guidance_w=1.0"
  cmd = [sys.executable, "-m", "vdmjax.main", f"--config=tests/configs/{config}.py",
         f"--workdir={tmp_path}", *override.split()]
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
  r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
  assert r.returncode != 0
  last = [l for l in r.stderr.strip().splitlines() if l.strip()][-1]
  assert message in last, r.stderr[-3000:]
  assert "Traceback" not in r.stderr, r.stderr[-3000:]


@pytest.mark.parametrize("name", sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "configs"))
                                        if f.endswith(".py")))
def test_every_config_builds(name):
  from vdmjax.config_files import load_config_file
  from vdmjax.train.config import validate
  from vdmjax.train.factory import make_objective
  config = load_config_file(os.path.join(ROOT, "configs", f"{name}.py"))
  validate(config)
  make_objective(config)
  doc = open(os.path.join(ROOT, "configs", f"{name}.py")).read().split('"""')[1]
  assert "python -m vdmjax.main --config=configs/" in doc


def test_a_workdir_of_a_different_config_is_refused_with_the_keys(tmp_path):
  from vdmjax.run import write_config
  write_config(get_config(), str(tmp_path))
  other = get_config()
  other.model.score.n_layer += 1
  with pytest.raises(ValueError, match=r"differing keys: model.score.n_layer: 1 -> 2"):
    write_config(other, str(tmp_path))


@pytest.mark.parametrize("images,labels,message", [
    (np.zeros((4, 28, 28, 1), np.float32), np.zeros(4, np.int32), "images must be uint8"),
    (np.zeros((4, 28, 28), np.uint8), np.zeros(4, np.int32), "shape (N, H, W, C)"),
    (np.zeros((4, 28, 28, 1), np.uint8), np.zeros(3, np.int32), "labels must be integers"),
    (np.zeros((4, 28, 28, 1), np.uint8), np.full(4, 12), "labels span 12..12"),
])
def test_bad_data_arrays_are_named(images, labels, message):
  from vdmjax.data.sources import DataError, check_arrays
  with pytest.raises(DataError, match=re.escape(message)):
    check_arrays(images, labels, "data.name=x (train)", num_classes=10)


def test_vdm_with_a_fixed_schedule_trains(tmp_path):
  c = get_config()
  c.model.schedule.update(kind="fixed", fixed_shape="cosine")
  c.objective.schedule_grad = "vlb"
  c.train.num_steps = 2
  exp = Experiment(c, str(tmp_path))
  assert exp.state["params"]["schedule"] == {}
  exp.train()
  assert int(exp.state["step"]) == 2
  assert np.isfinite(exp.evaluate(write=False)["bpd"])


def test_substeps_follow_the_one_update_per_call_trajectory(tmp_path):
  """train.substeps = 2 (two updates per host round trip) reaches the state of one update per
  call: the same batches, keys and EMA; scanned or unrolled, the same updates."""
  states = []
  for substeps in (1, 2):
    c = get_config()
    c.train.update(num_steps=4, substeps=substeps, checkpoint_every=2, log_every=2)
    c.optim.eps = 1e-3   # as in the data-parallel test: Adam turns float noise into full steps
    exp = Experiment(c, str(tmp_path / f"s{substeps}"))
    assert exp.train() == 4
    states.append(jax.device_get(exp.state))
  assert int(states[1]["step"]) == 4
  for a, b in zip(jax.tree.leaves(states[0]), jax.tree.leaves(states[1])):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
  # the two forms of the substeps: a lax.scan (accelerators) and unrolled (the CPU default)
  rng = np.random.default_rng(0)
  batch = shard_batch({"image": rng.integers(0, 256, (2, 8, 28, 28, 1), dtype=np.uint8),
                       "label": rng.integers(0, 10, (2, 8), dtype=np.int32)}, exp.mesh, 2)
  after = []
  for unroll in (False, True):
    step = make_train_step(exp.objective, exp.tx, c.optim.ema_decay, exp.mesh, substeps=2,
                           unroll_substeps=unroll)
    after.append(jax.device_get(step(jax.tree.map(lambda x: x.copy(), exp.state), batch)))
  assert "while" in make_train_step(exp.objective, exp.tx, c.optim.ema_decay, exp.mesh, 2,
                                    unroll_substeps=False).lower(exp.state, batch).as_text()
  for a, b in zip(jax.tree.leaves(after[0]), jax.tree.leaves(after[1])):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_nonfinite_update_leaves_the_state_bit_for_bit(tmp_path):
  # the in-graph guard: a poisoned step returns the state it was given (step count aside),
  # while the same step unpoisoned moves the parameters
  c = get_config()
  c.optim.warmup_steps = 0   # a first step of warm-up has learning rate 0
  exp = Experiment(c, str(tmp_path))
  b = c.train.batch_size
  rng = np.random.default_rng(0)
  batch = shard_batch({"image": rng.integers(0, 256, (b, 28, 28, 1), dtype=np.uint8),
                       "label": rng.integers(0, 10, (b,), dtype=np.int32)}, exp.mesh)
  before = jax.device_get(exp.state)
  copy = lambda: jax.tree.map(lambda x: x.copy(), exp.state)
  for nan_step, finite in ((1, 0.0), (0, 1.0)):
    step = make_train_step(exp.objective, exp.tx, c.optim.ema_decay, exp.mesh,
                           fault_nan_step=nan_step)
    after, metrics = jax.device_get(step(copy(), batch))
    assert float(metrics["finite"]) == finite and int(after["step"]) == 1
    same = [np.array_equal(a, b) for a, b in zip(jax.tree.leaves(after["params"]),
                                                 jax.tree.leaves(before["params"]))]
    assert all(same) if nan_step else not all(same)
    if nan_step:
      for key in ("opt_state", "ema_params", "rng", "aux"):
        for a, b in zip(jax.tree.leaves(after[key]), jax.tree.leaves(before[key])):
          np.testing.assert_array_equal(a, b)
  # without the guard (benchmarks only) the poisoned update reaches the parameters
  step = make_train_step(exp.objective, exp.tx, c.optim.ema_decay, exp.mesh, fault_nan_step=1,
                         guard=False)
  after, metrics = jax.device_get(step(copy(), batch))
  assert float(metrics["finite"]) == 0.0
  assert not all(np.isfinite(p).all() for p in jax.tree.leaves(after["params"]))


def test_results_are_fetched_one_behind_their_dispatch():
  # the sampling and eval loops dispatch chunk i + 1 before they wait for chunk i, in order
  events = []

  def dispatched():
    for i in range(3):
      events.append(f"dispatch {i}")
      yield jax.numpy.full((2,), i)

  for i, out in enumerate(fetched_one_behind(dispatched())):
    assert isinstance(out, np.ndarray) and out.tolist() == [i, i]
    events.append(f"fetched {i}")
  assert events == ["dispatch 0", "dispatch 1", "fetched 0", "dispatch 2", "fetched 1",
                    "fetched 2"]
  assert list(fetched_one_behind(iter(()))) == []


def test_each_program_compiles_once_across_steps_evals_and_a_resume(tmp_path, monkeypatch):
  # no recompiles: the state a step returns (and a restored one) has the shapes, dtypes and
  # shardings the step was compiled for; periodic eval and samples reuse their programs
  from vdmjax.train import loop
  steps = []
  make = loop.make_train_step
  monkeypatch.setattr(loop, "make_train_step", lambda *a, **k: steps.append(make(*a, **k))
                      or steps[-1])
  c = get_config()
  c.train.update(num_steps=4, eval_every=2)
  c.eval.train_eval_examples = 16
  exps = [Experiment(c, str(tmp_path))]
  exps[0].train()
  c.train.num_steps = 6   # a second process resumes from the checkpoint of step 4
  exps.append(Experiment(c, str(tmp_path)))
  assert exps[1].train() == 6
  assert len(steps) == 2 and [fn._cache_size() for fn in steps] == [1, 1]
  exps[0].evaluate()   # the periodic eval's program, at the full eval set
  fns = list(exps[0]._eval_fns.values()) + list(exps[0]._sample_fns.values())
  assert len(fns) == 2 and [fn._cache_size() for fn in fns] == [1, 1]


def test_eval_averages_its_draws_per_example_in_batch_order(tmp_path):
  # the eval loop's bookkeeping (dispatch ahead, fetch in order, draws averaged per example,
  # the padded last batch trimmed) against the objective's eval terms computed one by one
  c = get_config()
  c.eval.update(num_examples=12, batch_size=8, num_draws=2)
  exp = Experiment(c, str(tmp_path))
  result = exp.evaluate(write=False)
  params, rng = exp.params_for_eval(), jax.random.PRNGKey(c.seed + 1)
  per_example = []
  for b in range(2):
    idx = np.arange(b * 8, (b + 1) * 8) % 12
    batch = {"image": exp.eval_images[idx], "label": exp.eval_labels[idx]}
    draws = [jax.device_get(exp.objective.eval_terms(params, batch, jax.random.fold_in(
        rng, b * 2 + d), False))["bpd"] for d in range(2)]
    per_example.append(((draws[0] + draws[1]) / 2)[:min(8, 12 - b * 8)])
  per_example = np.concatenate(per_example)
  assert result["num_examples"] == 12 and result["num_draws"] == 2
  np.testing.assert_allclose(result["bpd"], per_example.mean(), rtol=1e-5)
  np.testing.assert_allclose(result["bpd_se"], per_example.std(ddof=1) / np.sqrt(12), rtol=1e-4)
