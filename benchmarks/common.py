"""Shared helpers: machine info and appending records to benchmarks/results.jsonl."""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import time

import jax

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


def timed(fn, *args, repeats=3):
  """(compile seconds, median run seconds) of jit(fn)(*args), after one warm-up run."""
  t0 = time.perf_counter()
  compiled = jax.jit(fn).lower(*args).compile()
  compile_s = time.perf_counter() - t0
  jax.block_until_ready(compiled(*args))
  runs = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    runs.append(time.perf_counter() - t0)
  return compile_s, statistics.median(runs)
