"""Shared helpers: machine info and appending records to benchmarks/results.jsonl."""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from vdmjax.train.factory import make_objective
from vdmjax.train.loop import (init_state, make_mesh, make_train_step, optimizer_for,
                               shard_batch)

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.jsonl")


def machine_info():
  dev = jax.devices()[0]
  return {"host": platform.node(), "cpu_count": os.cpu_count(), "platform": platform.platform(),
          "jax": jax.__version__, "backend": jax.default_backend(), "device_kind": dev.device_kind,
          "num_devices": jax.device_count()}


def record(name, **values):
  rec = {"name": name, "time": datetime.datetime.now(datetime.timezone.utc).isoformat(),
         **values, "machine": machine_info()}
  with open(RESULTS, "a") as f:
    f.write(json.dumps(rec) + "\n")
  print(json.dumps({k: v for k, v in rec.items() if k != "machine"}), flush=True)
  return rec


def timed(fn, *args, repeats=3, back_to_back=1):
  """(compile seconds, median run seconds per call) of jit(fn)(*args), after one warm-up run.

  Each of the ``repeats`` runs dispatches ``back_to_back`` calls and waits once, at the end:
  with 1 a call's latency (its dispatch included), with more the throughput of calls issued
  the way a loop over batches issues them (the host dispatches a call while the device still
  runs the one before)."""
  t0 = time.perf_counter()
  compiled = jax.jit(fn).lower(*args).compile()
  compile_s = time.perf_counter() - t0
  jax.block_until_ready(compiled(*args))
  runs = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready([compiled(*args) for _ in range(back_to_back)])
    runs.append((time.perf_counter() - t0) / back_to_back)
  return compile_s, statistics.median(runs)


def step_setup(config, shape, substeps=1, unroll_substeps=None, guard=True):
  """(state, jitted train step, device batch) of ``config`` on all devices, with a batch of
  random uint8 images ``shape`` and labels at the config's global batch size (``substeps`` of
  them stacked for a step of several updates; ``guard`` False: without the non-finite guard)."""
  mesh = make_mesh()
  objective = make_objective(config)
  tx, _ = optimizer_for(objective, config)
  b = config.train.batch_size
  rng = np.random.default_rng(0)
  lead = (substeps,) if substeps > 1 else ()
  batch = {"image": rng.integers(0, 256, lead + (b,) + tuple(shape), dtype=np.uint8),
           "label": rng.integers(0, 10, lead + (b,), dtype=np.int32)}
  example = {k: v.reshape((-1,) + v.shape[len(lead) + 1:])[:mesh.size] for k, v in batch.items()}
  state = init_state(objective, tx, example, 0, mesh)
  step_fn = make_train_step(objective, tx, config.optim.ema_decay, mesh, substeps,
                            variant=_common_variant(objective), unroll_substeps=unroll_substeps,
                            guard=guard)
  return state, step_fn, shard_batch(batch, mesh, substeps)


def compiled_step_seconds(state, step_fn, batch, steps):
  """(compile seconds, median seconds of ``steps`` timed steps) of the jitted train step (which
  donates its state: each step runs on the state the last one returned), after a warm-up."""
  t0 = time.perf_counter()
  compiled = step_fn.lower(state, batch).compile()
  compile_s = time.perf_counter() - t0
  state, metrics = compiled(state, batch)   # warm-up
  jax.block_until_ready(metrics)
  times = []
  for _ in range(steps):
    t0 = time.perf_counter()
    state, metrics = compiled(state, batch)
    jax.block_until_ready(metrics)
    times.append(time.perf_counter() - t0)
  return compile_s, statistics.median(times)


def _common_variant(objective):
  """The update most steps run, for an objective that compiles several (DD-GAN: without R1)."""
  return False if hasattr(objective, "update_variant") else None


def step_flops(config, shape):
  """Model FLOPs of one train step of ``config`` at its global batch on images ``shape``.

  Counted by XLA's cost analysis of the lowered (not compiled) step with abstract inputs and
  every block stack unrolled and not rematerialised (recomputation is not model work): the
  compiled step's analysis counts a scanned body once and, on GPU, omits convolutions that run
  as library calls, so it is no measure of the model's work. The step is lowered for the host
  CPU, whatever the default backend: plugin backends (CUDA) give no pre-compilation analysis.
  """
  c = config.copy_and_resolve_references()
  for block in c.model.values():
    if "scan_blocks" in block:
      block.scan_blocks = "false"   # build() takes the string; unrolled, every layer counted
    if "remat" in block:
      block.remat = False
  objective = make_objective(c)
  tx, _ = optimizer_for(objective, c)
  b = c.train.batch_size
  batch = {"image": jax.ShapeDtypeStruct((b,) + tuple(shape), jnp.uint8),
           "label": jax.ShapeDtypeStruct((b,), jnp.int32)}
  example = {"image": jnp.zeros((1,) + tuple(shape), jnp.uint8),
             "label": jnp.zeros((1,), jnp.int32)}

  def init(rng):
    params = objective.init(rng, example)
    return {"step": jnp.zeros((), jnp.int32), "params": params, "opt_state": tx.init(params),
            "ema_params": params, "rng": rng, "aux": objective.init_aux()}

  state = jax.eval_shape(init, jax.random.PRNGKey(0))
  cpu_mesh = Mesh(np.array(jax.devices("cpu")[:1]), ("data",))
  step = make_train_step(objective, tx, c.optim.ema_decay, cpu_mesh,
                         variant=_common_variant(objective))
  cost = step.lower(state, batch).cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  if not cost or "flops" not in cost:
    raise RuntimeError("XLA gave no cost analysis of the lowered step on this jax version")
  return float(cost["flops"])
