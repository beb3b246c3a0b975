"""Where the train step's time goes: a profiler trace of the shared loop's jitted step, its
kernel time grouped by the part of the model each op comes from.

    python benchmarks/profile_step.py --preset mnist_demo [--batch B] [--steps 3]
        [--remat] [--dtype bfloat16] [--scan_blocks auto|true|false]

The presets and network options are those of benchmarks/train_step.py. Each kernel event of
the trace (jax.profiler) is matched to its instruction in the compiled step's HLO, whose
metadata names the JAX operation; the group is the Flax module it belongs to (or the jitted
function, e.g. log_softmax, or the primitive), split into forward and backward (ops under a
transpose). Events that match no instruction (runtime, copies between devices) are
'unattributed'. Kernel time is summed over threads (on CPU: both cores), so shares, not wall
time, are the figure. Records `train_step_profile` (`groups`: {group: share}, `kernel_ms`:
kernel time per step, `host_transfers`: events of host-device copies inside the step).
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import os
import re
import sys
import tempfile

import jax

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import record, step_setup  # noqa: E402
from benchmarks.train_step import preset_config, set_network_options  # noqa: E402

_COMPUTATION = re.compile(r"^(?:ENTRY )?%([\w.\-]+) .*\{$")
_INSTRUCTION = re.compile(r"^\s*(ROOT )?%([\w.\-]+) = ")
_OP_NAME = re.compile(r'metadata=\{op_name="([^"]+)"')
_CALLS = re.compile(r"calls=%([\w.\-]+)")
_MODULE = re.compile(r"\b([A-Z][A-Za-z0-9]+)\b")
_FUNCTION = re.compile(r"jit\((\w+)\)")
_TRANSFER = re.compile(r"MemcpyHtoD|MemcpyDtoH|TransferToDevice|TransferFromDevice", re.I)


def op_names(hlo_text):
  """{HLO instruction name: JAX op_name} of a compiled module's text. A fusion that carries no
  metadata of its own takes that of its fused computation's root (or first named op), or else
  '?<the root's opcode>' (XLA:CPU's canonicalised convolutions keep no metadata)."""
  own, calls, computation_op, computation_root = {}, {}, {}, {}
  computation = None
  for line in hlo_text.splitlines():
    header = _COMPUTATION.match(line)
    if header:
      computation = header.group(1)
      continue
    instruction = _INSTRUCTION.match(line)
    if not instruction:
      continue
    op_name, callee = _OP_NAME.search(line), _CALLS.search(line)
    if instruction.group(1) and computation:
      opcode = re.search(r"= \S+ ([\w\-]+)\(", line)
      computation_root[computation] = opcode.group(1) if opcode else "?"
    if op_name:
      own[instruction.group(2)] = op_name.group(1)
      if computation and (instruction.group(1) or computation not in computation_op):
        computation_op[computation] = op_name.group(1)
    elif callee:
      calls[instruction.group(2)] = callee.group(1)
  for name, callee in calls.items():
    if callee in computation_op:
      own[name] = computation_op[callee]
    elif callee in computation_root:
      own[name] = "?" + computation_root[callee]
  return own


def group_of(op_name):
  """'VDMScoreNet backward', 'log_softmax forward', 'reduce_sum forward', ... of an op_name."""
  if op_name.startswith("?"):
    return f"{op_name[1:]} (no op_name)"
  path = op_name.split("/", 1)[-1]   # drop the outer jit(step)
  direction = "backward" if "transpose(" in path else "forward"
  module = _MODULE.search(path)
  if module:
    return f"{module.group(1)} {direction}"
  function = _FUNCTION.search(path)
  name = function.group(1).lstrip("_") if function else path.rsplit("/", 1)[-1]
  return f"{name} {direction}"


def kernel_times(trace_events, names):
  """(ms per group, ms unattributed, host-transfer events) summed over complete events."""
  groups, unattributed, transfers = collections.Counter(), 0.0, 0
  for e in trace_events:
    if e.get("ph") != "X":
      continue
    name = e.get("name", "")
    hlo = e.get("args", {}).get("hlo_op", name)
    if _TRANSFER.search(name):
      transfers += 1
    if hlo in names:
      groups[group_of(names[hlo])] += e.get("dur", 0) / 1e3
    elif not name.startswith("$") and "Thunk" not in name and "ThreadPool" not in name:
      unattributed += e.get("dur", 0) / 1e3
  return groups, unattributed, transfers


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--preset", default="mnist_demo")
  p.add_argument("--batch", type=int, default=0)
  p.add_argument("--steps", type=int, default=3)
  p.add_argument("--remat", action="store_true")
  p.add_argument("--dtype", default="float32")
  p.add_argument("--scan_blocks", default="auto")
  p.add_argument("--top", type=int, default=12)
  args = p.parse_args()
  config, shape = preset_config(args.preset, args.batch)
  set_network_options(config, remat=args.remat, dtype=args.dtype,
                      scan_blocks=args.scan_blocks.lower())
  state, step, batch = step_setup(config, shape)
  step = step.lower(state, batch).compile()   # the traced program is the one run
  names = op_names(step.as_text())
  for _ in range(2):
    state, _ = step(state, batch)
  jax.block_until_ready(state)
  with tempfile.TemporaryDirectory() as tmp:
    with jax.profiler.trace(tmp):
      for _ in range(args.steps):
        state, _ = step(state, batch)
      jax.block_until_ready(state)
    files = glob.glob(os.path.join(tmp, "**", "*.trace.json.gz"), recursive=True)
    if not files:
      raise SystemExit(f"jax.profiler wrote no trace.json.gz under {tmp}")
    with gzip.open(files[0]) as f:
      events = json.load(f)["traceEvents"]
  groups, unattributed, transfers = kernel_times(events, names)
  total = sum(groups.values()) + unattributed
  shares = {g: ms / total for g, ms in groups.most_common(args.top)}
  shares["unattributed"] = unattributed / total
  for g, share in shares.items():
    print(f"{100 * share:5.1f}%  {g}")
  record("train_step_profile", preset=args.preset, batch=config.train.batch_size,
         image_shape=list(shape), remat=args.remat, dtype=args.dtype,
         scan_blocks=args.scan_blocks, steps=args.steps, kernel_ms=total / args.steps,
         host_transfers=transfers, groups=shares)


if __name__ == "__main__":
  main()
