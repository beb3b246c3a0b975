"""Several updates per step (train.substeps): seconds per update with the K updates in a
lax.scan and unrolled, against one update per step.

    python benchmarks/substeps.py [--preset mnist_demo] [--substeps 2] [--steps 3]

The presets of train_step.py. Inside the scan every gradient of the network runs in a loop
body, where XLA:CPU takes its slow path for convolution gradients (jax-ml/jax#12868); the loop
unrolls the substeps on CPU for that reason (make_train_step's ``unroll_substeps``) and scans
them elsewhere. Appends one `train_substeps` record per variant (`form` 'single' | 'scan' |
'unrolled', `update_s` = median step seconds / K, `compile_s`).
"""

from __future__ import annotations

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.common import compiled_step_seconds, record, step_setup  # noqa: E402
from benchmarks.train_step import preset_config  # noqa: E402


def seconds_per_update(config, shape, substeps, unroll, steps):
  """(compile seconds, median seconds per update) of the step with ``substeps`` updates."""
  compile_s, step_s = compiled_step_seconds(
      *step_setup(config, shape, substeps, unroll), steps)
  return compile_s, step_s / substeps


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--preset", default="mnist_demo")
  p.add_argument("--batch", type=int, default=0)
  p.add_argument("--substeps", type=int, default=2)
  p.add_argument("--steps", type=int, default=3)
  args = p.parse_args()
  if args.substeps < 2:
    raise SystemExit(f"--substeps {args.substeps}: compare at 2 or more updates per step")
  config, shape = preset_config(args.preset, args.batch)
  for form, substeps, unroll in (("single", 1, None), ("scan", args.substeps, False),
                                 ("unrolled", args.substeps, True)):
    compile_s, update_s = seconds_per_update(config, shape, substeps, unroll, args.steps)
    record("train_substeps", preset=args.preset, batch=config.train.batch_size, form=form,
           substeps=substeps, update_s=update_s, compile_s=compile_s)


if __name__ == "__main__":
  main()
