"""The shared training loop: one jitted, data-parallel step for every method.

A train state is a dict {'step', 'params', 'opt_state', 'ema_params', 'rng', 'aux'}; 'aux' is
the objective's own state (Improved DDPM's loss history for importance sampling), saved and
restored with the rest. The step is jitted over a Mesh of all devices with the batch sharded
along 'data' and the state replicated (and donated). The objective supplies
``grads(params, aux, batch, rng) -> (grads, aux, metrics)``; everything else (optimizer, EMA,
checkpoints, resume, metrics, eval, samples, preemption) lives here. An objective with
several players (DD-GAN) supplies ``optimizer()`` and ``update(params, opt_state, aux, batch,
rng, step) -> (params, opt_state, aux, metrics, grads)`` instead and steps them itself.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from vdmjax.core import guidance
from vdmjax.data import sources
from vdmjax.dispatch import fetched_one_behind
from vdmjax.eval import images as image_io
from vdmjax.eval import likelihood as ode_likelihood
from vdmjax.train import optim
from vdmjax.train.checkpoint import Checkpoints
from vdmjax.train.lock import workdir_lock
from vdmjax.train.factory import make_objective
from vdmjax.train.metrics import MetricWriter, Progress


class NonFiniteError(RuntimeError):
  """Training produced a non-finite loss or gradient."""


def make_mesh(num_devices=None):
  """A 1-D mesh named 'data' over all devices (or the first ``num_devices``)."""
  devices = jax.devices()[:num_devices] if num_devices else jax.devices()
  return Mesh(np.array(devices), ("data",))


def check_batch_size(batch_size, key, num_devices):
  if batch_size % num_devices:
    raise ValueError(f"{key} = {batch_size} is not divisible by the {num_devices} devices")


def make_train_step(objective, tx, ema_decay, mesh, substeps=1, fault_nan_step=0,
                    variant=None, unroll_substeps=None, guard=True):
  """jit(step)(state, batch) -> (state, metrics). With ``substeps`` > 1 the batch carries a
  leading axis of that length and the updates run in a lax.scan (google-research/vdm's
  substeps: several updates per host round trip), unrolled where ``unroll_substeps`` (default:
  on CPU, where a network's gradients inside a loop body take XLA:CPU's slow convolution path:
  the MNIST VDM update 24x slower in the scan; benchmarks/substeps.py).
  ``fault_nan_step`` > 0 injects a NaN loss and gradient into that step
  (train.fault_nan_step, for fault-injection tests). ``variant`` is handed to an objective's
  own ``update`` (its ``update_variant(step)``, chosen on the host). ``guard`` False drops the
  in-graph guard that keeps the state after a non-finite update (the loop always guards;
  benchmarks/train_step.py --no_guard measures what the guard costs)."""
  if unroll_substeps is None:
    unroll_substeps = jax.default_backend() == "cpu"

  def one_update(state, batch):
    rng = jax.random.fold_in(state["rng"], state["step"])
    poison = jnp.where(state["step"] + 1 == fault_nan_step, jnp.nan, 0.0)
    if hasattr(objective, "update"):   # several players, each stepped by the objective
      params, opt_state, aux, metrics, grads = objective.update(
          state["params"], state["opt_state"], state["aux"], batch, rng, state["step"],
          variant)
    else:
      grads, aux, metrics = objective.grads(state["params"], state["aux"], batch, rng)
      if fault_nan_step:
        grads = jax.tree.map(lambda g: g + poison, grads)
      updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
      params = optim.optax.apply_updates(state["params"], updates)
    if fault_nan_step:   # a poisoned loss makes the update non-finite: the state is kept
      metrics = dict(metrics, loss=metrics["loss"] + poison)
    ema = optim.ema_update(state["ema_params"], params, ema_decay, state["step"])
    finite = jnp.isfinite(metrics["loss"]) & optim.all_finite(grads)
    metrics = dict(metrics, grad_norm=optim.optax.global_norm(grads),
                   finite=finite.astype(jnp.float32))
    new = {"step": state["step"] + 1, "params": params, "opt_state": opt_state,
           "ema_params": ema, "rng": state["rng"], "aux": aux}
    if not guard:
      return new, metrics
    # a non-finite update leaves the state as it was; the loop stops or counts a skip. One
    # lax.cond over the whole state, not a jnp.where per leaf: XLA:CPU compiled the DD-GAN step
    # with per-leaf selects in 160 s against 21 s with the cond
    kept = jax.lax.cond(finite, lambda: {k: v for k, v in new.items() if k != "step"},
                        lambda: {k: v for k, v in state.items() if k != "step"})
    return dict(kept, step=new["step"]), metrics

  def step(state, batch):
    if substeps == 1:
      return one_update(state, batch)
    state, metrics = jax.lax.scan(one_update, state, batch,
                                  unroll=substeps if unroll_substeps else 1)
    return state, jax.tree.map(lambda m: m[-1], metrics)

  replicated = NamedSharding(mesh, P())
  data_axis = P(None, "data") if substeps > 1 else P("data")
  batch_sharding = NamedSharding(mesh, data_axis)
  return jax.jit(step, in_shardings=(replicated, batch_sharding),
                 out_shardings=(replicated, replicated), donate_argnums=(0,))


def optimizer_for(objective, config):
  """(tx, learning-rate schedule) from the config's ``optim`` block, or the objective's own
  optimizers where it has several players (the schedule shown is then the generator's)."""
  tx, lr_fn = optim.make_optimizer(config.optim, config.train.num_steps,
                                   config.optim.get("lr_g"))
  return (objective.optimizer() if hasattr(objective, "optimizer") else tx), lr_fn


def init_state(objective, tx, batch, seed, mesh):
  rng = jax.random.PRNGKey(seed)
  rng_init, rng_train = jax.random.split(rng)

  def init(rng_init):
    params = objective.init(rng_init, batch)
    return {"step": jnp.zeros((), jnp.int32), "params": params, "opt_state": tx.init(params),
            "ema_params": params, "rng": rng_train, "aux": objective.init_aux()}

  return jax.jit(init, out_shardings=NamedSharding(mesh, P()))(rng_init)


def shard_batch(batch, mesh, substeps=1):
  spec = P(None, "data") if substeps > 1 else P("data")
  return jax.device_put(batch, NamedSharding(mesh, spec))


def _example_batch(images, labels, n):
  return {"image": images[:n], "label": labels[:n]}


class Experiment:
  """Everything a mode needs, built once from the config and the workdir."""

  def __init__(self, config: ml_collections.ConfigDict, workdir: str):
    self.config, self.workdir = config, workdir
    if config.train.get("multi_host", False):
      jax.distributed.initialize()
    self.mesh = make_mesh(config.train.get("num_devices", 0))
    ndev = self.mesh.size
    check_batch_size(config.train.batch_size, "train.batch_size", ndev)
    check_batch_size(config.eval.batch_size, "eval.batch_size", ndev)
    self.objective = make_objective(config)
    self.tx, self.lr_fn = optimizer_for(self.objective, config)
    self.train_images, self.train_labels = sources.load(
        config.data.name, "train", config.data.get("data_dir"))
    self.eval_images, self.eval_labels = sources.load(
        config.data.name, "eval", config.data.get("data_dir"))
    num_classes = getattr(self.objective, "num_classes", 0)
    if num_classes:   # label embeddings would silently clamp labels out of range
      for split, images, labels in (("train", self.train_images, self.train_labels),
                                    ("eval", self.eval_images, self.eval_labels)):
        sources.check_arrays(images, labels, f"data.name={config.data.name} ({split})",
                             num_classes)
    self.batch_size = config.train.batch_size // jax.process_count()
    example = _example_batch(self.train_images, self.train_labels, ndev)
    self.state = init_state(self.objective, self.tx, example, config.seed, self.mesh)
    self.ckpt = Checkpoints(workdir, keep=config.train.get("keep_checkpoints", 3),
                            async_save=config.train.get("async_checkpoints", True))
    self.is_main = jax.process_index() == 0
    # the held-out metric (lower is better) that picks the best checkpoint
    self.best_metric = getattr(self.objective, "best_metric", "bpd")
    self._eval_fns, self._sample_fns, self._classifiers = {}, {}, {}

  def restore(self, step=None):
    state, restored = self.ckpt.restore(self.state, step)
    if state is not None:
      self.state = state
    return restored

  def params_for_eval(self):
    return self.state["ema_params"] if self.config.eval.get("use_ema", True) else \
        self.state["params"]

  # --- training -----------------------------------------------------------------------------

  def train(self):
    """Train to train.num_steps from the newest complete checkpoint; returns the last step."""
    with workdir_lock(self.workdir) if self.is_main else contextlib.nullcontext():
      return self._train()

  def _train(self):
    cfg = self.config.train
    substeps = cfg.get("substeps", 1)
    restored = self.restore()
    start = int(self.state["step"])
    if restored is not None:
      print(f"resuming from checkpoint {restored} (step {start})", flush=True)
    # an objective may compile several updates and pick one per step on the host (DD-GAN:
    # with and without R1); inside a scan of substeps it branches in the graph instead
    variant_of = getattr(self.objective, "update_variant", None) if substeps == 1 else None
    step_fns = {}

    def step_fn(state, batch, step):
      variant = variant_of(step) if variant_of else None
      if variant not in step_fns:
        step_fns[variant] = make_train_step(
            self.objective, self.tx, self.config.optim.ema_decay, self.mesh, substeps,
            cfg.get("fault_nan_step", 0), variant)
      return step_fns[variant](state, batch)

    writer = MetricWriter(self.workdir, self.is_main)
    progress = Progress(start, cfg.num_steps, cfg.get("log_every", 50))
    stop = {"signal": None}
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.update(signal=signum))
    skipped, t_last, step = 0, time.time(), start
    def device_batch(first):
      batches = [sources.get_batch(self.train_images, self.train_labels, first + i,
                                   self.batch_size, self.config.seed,
                                   self.config.data.get("random_flip", False))
                 for i in range(substeps)]
      batch = batches[0] if substeps == 1 else jax.tree.map(lambda *b: np.stack(b), *batches)
      return shard_batch(batch, self.mesh, substeps)

    def check_finite(checked_step, metrics):
      """Stop, or count a skip, for a non-finite step (its update was not applied in-graph)."""
      nonlocal skipped
      if bool(metrics["finite"]):
        return
      bad = {k: float(v) for k, v in metrics.items() if not np.isfinite(float(v))}
      name = "loss" if "loss" in bad else next(iter(bad), "gradient")
      if cfg.get("on_nonfinite", "stop") == "stop":
        raise NonFiniteError(
            f"non-finite {name} at step {checked_step} ({bad or 'gradient norm'}); the last good "
            f"checkpoint is {self.ckpt.steps()[-1] if self.ckpt.steps() else 'none'}")
      skipped += 1

    try:
      batch = device_batch(step) if step < cfg.num_steps else None
      unchecked = None   # (step, metrics) of the newest step whose flag the host has not read
      while step < cfg.num_steps:
        self.state, metrics = step_fn(self.state, batch, step)
        step += substeps
        # the next batch is gathered and sent while the device computes this step (dispatch
        # is asynchronous). The host reads the finiteness of the step before, which finishes
        # while this one is queued: reading this step's own flag would leave the device idle
        # for a host round trip every step.
        batch = device_batch(step) if step < cfg.num_steps else None
        if unchecked is not None:
          check_finite(*unchecked)
        unchecked = (step, metrics)
        at_log = step % cfg.get("log_every", 50) == 0 or step == cfg.num_steps
        at_ckpt = step % cfg.checkpoint_every == 0 or step == cfg.num_steps
        at_eval = cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.num_steps
        if at_log or at_ckpt or at_eval:
          check_finite(*unchecked)   # nothing is logged or saved before its step is checked
          unchecked = None
        if at_log:
          now = time.time()
          scalars = {k: v for k, v in jax.device_get(metrics).items() if k != "finite"}
          scalars.update(lr=self.lr_fn(step), steps_per_s=cfg.get("log_every", 50) /
                         max(now - t_last, 1e-9), skipped_steps=skipped)
          t_last = now
          writer.write(step, scalars)
          shown = "bpd" if "bpd" in scalars else "loss"
          progress.update(step, f"{shown} {scalars[shown]:.3f}")
        if at_ckpt:
          self.ckpt.save(step, self.state)
        if at_eval:
          result = self.evaluate(num_examples=self.config.eval.get("train_eval_examples", 500),
                                 write=False)
          writer.write(step, {k: v for k, v in result.items()
                              if isinstance(v, float) and not k.endswith("_se")}, prefix="eval")
          if self.best_metric:
            self.ckpt.save_best(step, self.state, result[self.best_metric])
          if hasattr(self.objective, "sample"):
            self.sample(path=os.path.join(self.workdir, "samples", f"step_{step}.png"))
        if stop["signal"] is not None:
          if unchecked is not None:   # the handler may run at any time: check before saving
            check_finite(*unchecked)
          print(f"received signal {stop['signal']}: checkpointing step {step} and exiting",
                flush=True)
          if not at_ckpt:   # at a checkpoint step it was saved just above
            self.ckpt.save(step, self.state, force=True)
          break
    finally:
      signal.signal(signal.SIGTERM, previous)
      self.ckpt.wait()
      progress.close()
      writer.close()
    return step

  # --- evaluation ---------------------------------------------------------------------------

  def evaluate(self, num_examples=None, write=True, conditional=None):
    """The objective's held-out metrics (for diffusion models the bound in bits per dim with
    its parts, or the ODE likelihood): mean and standard error over images (each averaged
    over eval.num_draws draws). ``conditional`` (default eval.conditional) evaluates a
    class-conditional model given the true labels; otherwise unconditionally (null label)."""
    ecfg = self.config.eval
    if conditional is None:
      conditional = bool(ecfg.get("conditional", False))
    n = min(num_examples or ecfg.num_examples or len(self.eval_images), len(self.eval_images))
    bs = ecfg.batch_size
    draws = ecfg.get("num_draws", 1)
    params = self.params_for_eval()
    method = ecfg.get("method", "vlb")
    if (conditional, method) not in self._eval_fns:
      self._eval_fns[conditional, method] = _eval_fn(
          self.objective, self.mesh, conditional, method, dict(ecfg.get("ode", {})))
    eval_fn = self._eval_fns[conditional, method]
    per_example = {}
    rng = jax.random.PRNGKey(self.config.seed + 1)
    num_batches = math.ceil(n / bs)
    progress = Progress(0, num_batches, max(num_batches // 4, 1), desc="eval")

    def dispatched():
      for b in range(num_batches):
        idx = np.arange(b * bs, (b + 1) * bs) % n        # pad the last batch by wrapping
        batch = shard_batch({"image": self.eval_images[idx], "label": self.eval_labels[idx]},
                            self.mesh)
        for d in range(draws):
          yield eval_fn(params, batch, jax.random.fold_in(rng, b * draws + d))

    outs = fetched_one_behind(dispatched())
    for b in range(num_batches):
      valid = min(bs, n - b * bs)
      acc = None
      for _ in range(draws):
        out = next(outs)
        acc = out if acc is None else {k: acc[k] + out[k] for k in acc}
      for k, v in acc.items():
        per_example.setdefault(k, []).append(np.asarray(v)[:valid] / draws)
      progress.update(b + 1)
    progress.close()
    vals = {k: np.concatenate(v) for k, v in per_example.items()}
    step = int(self.state["step"])
    num = len(next(iter(vals.values())))
    result = {}
    for k, v in vals.items():
      result[k] = float(v.mean())
      result[f"{k}_se"] = float(v.std(ddof=1) / math.sqrt(num)) if num > 1 else float("nan")
    result.update(step=step, num_examples=int(num), num_draws=draws, conditional=conditional,
                  eval_method=method,
                  method=self.config.get("method", "vdm"), T=self.config.objective.get("T", 0))
    if write and self.is_main:
      suffix = "" if method == "vlb" else f"_{method}"
      path = os.path.join(self.workdir, "eval", f"step_{step}{suffix}.json")
      os.makedirs(os.path.dirname(path), exist_ok=True)
      tmp = path + ".tmp"
      with open(tmp, "w") as f:
        json.dump(result, f, indent=2)
      os.replace(tmp, path)
      result["path"] = path
    return result

  # --- sampling -----------------------------------------------------------------------------

  def sample(self, path=None, num=None, guidance_w=None, labels=None):
    """Samples of the config's sampler to a PNG grid and an .npz; returns the PNG path.

    sample.guidance_w (or diffusers' sample.guidance_scale = 1 + w) guides a conditional
    model without a classifier; sample.classifier_workdir and sample.classifier_scale guide
    with the noise-aware classifier trained there.
    """
    scfg = self.config.sample
    num = num or scfg.num
    chunk = scfg.get("batch_size", 0) or num
    if num % chunk:
      raise ValueError(f"sample.num = {num} is not a multiple of sample.batch_size = {chunk}")
    shape = (chunk,) + self.train_images.shape[1:]
    if guidance_w is None:
      w = guidance.resolve_w(scfg.get("guidance_w"), scfg.get("guidance_scale"))
    else:
      w = guidance_w
    classifier_dir = scfg.get("classifier_workdir") or ""
    classifier, cls_params = self._classifier(classifier_dir) if classifier_dir else (None, None)
    num_classes = self.objective.num_classes or (classifier.num_classes if classifier else 0)
    if labels is None and num_classes > 0 and (scfg.get("conditional", False) or classifier):
      labels = jnp.arange(num) % num_classes
    if classifier and classifier.kind != self.config.get("method", "vdm"):
      raise ValueError(f"sample.classifier_workdir {classifier_dir}: the classifier was trained "
                       f"for a {classifier.kind!r} diffusion, this model is "
                       f"{self.config.get('method', 'vdm')!r}")
    options = dict(sampler=scfg.get("sampler", "ancestral"), eta=scfg.get("eta", 0.0),
                   percentile=scfg.get("threshold_percentile", 0.0))
    scale = float(scfg.get("classifier_scale", 0.0))
    # w and the classifier scale are run-time inputs: one compile serves every strength (a
    # sweep of guidance settings does not recompile); only w = 0, which drops the doubled
    # batch of CFG, is a program of its own
    guided = bool(w)
    key = (shape, guided, labels is None, classifier_dir, tuple(options.items()))
    if key not in self._sample_fns:   # periodic samples during training reuse one compile

      def sample_fn(params, cls_params, rng, labels, w, scale):
        cond_fn = classifier.guidance_fn(cls_params, labels, scale) if classifier else None
        return self.objective.sample(params, rng, shape, scfg.steps, labels,
                                     w if guided else 0.0, cond_fn=cond_fn, **options)

      self._sample_fns[key] = jax.jit(sample_fn)
    rng = jax.random.PRNGKey(self.config.seed + 2)
    strengths = (jnp.float32(w), jnp.float32(scale))
    if chunk == num:
      x = jax.device_get(self._sample_fns[key](self.params_for_eval(), cls_params, rng, labels,
                                               *strengths))
    else:   # sample.batch_size at a time (50,000 samples for FID do not fit one call)
      chunks = (self._sample_fns[key](
          self.params_for_eval(), cls_params, jax.random.fold_in(rng, i),
          None if labels is None else labels[i * chunk:(i + 1) * chunk], *strengths)
          for i in range(num // chunk))
      x = np.concatenate(list(fetched_one_behind(chunks)))
    points = x.ndim == 2   # 2-D toy data: a scatter plot, float points in the archive
    x = np.asarray(x) if points else image_io.to_uint8(x)
    path = path or os.path.join(self.workdir, "samples", f"step_{int(self.state['step'])}.png")
    if self.is_main:
      # the archive holds every sample; the picture the first 256 (or all points)
      (image_io.save_scatter if points else image_io.save_grid)(x if points else x[:256], path)
      np.savez_compressed(os.path.splitext(path)[0] + ".npz", images=x,
                          labels=np.asarray(labels) if labels is not None else np.zeros(0))
    return path

  def _classifier(self, workdir):
    """(objective, EMA params) of the noise-aware classifier trained in ``workdir``."""
    if workdir not in self._classifiers:
      path = os.path.join(workdir, "config.json")
      if not os.path.exists(path):
        raise FileNotFoundError(f"sample.classifier_workdir: no config.json in {workdir}")
      with open(path) as f:
        config = ml_collections.ConfigDict(json.load(f))
      if config.get("method") != "classifier":
        raise ValueError(f"sample.classifier_workdir {workdir} holds a {config.get('method')!r} "
                         "run, not a classifier")
      exp = Experiment(config, workdir)
      if exp.restore() is None:
        raise FileNotFoundError(f"sample.classifier_workdir: no checkpoint under {exp.ckpt.dir}")
      self._classifiers[workdir] = (exp.objective, exp.params_for_eval())
    return self._classifiers[workdir]


def _eval_fn(objective, mesh, conditional, method="vlb", ode_options=None):
  """The jitted per-batch eval: the objective's own bound ('vlb') or the ODE ('ode')."""
  if method == "vlb":
    fn = lambda params, batch, rng: objective.eval_terms(params, batch, rng, conditional)
  elif method == "ode":
    if not hasattr(objective, "ode_fns"):
      raise ValueError("eval.method 'ode' needs a diffusion model (method vdm or iddpm)")
    fn = lambda params, batch, rng: ode_likelihood.ode_eval_terms(
        objective, params, batch, rng, conditional, **(ode_options or {}))
  else:
    raise ValueError(f"eval.method {method!r} is not 'vlb' or 'ode'")
  return jax.jit(fn, in_shardings=(NamedSharding(mesh, P()), NamedSharding(mesh, P("data")),
                                   NamedSharding(mesh, P())),
                 out_shardings=NamedSharding(mesh, P("data")))
