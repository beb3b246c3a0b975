"""Command line: python -m vdmjax.main --config=configs/NAME.py --workdir=DIR --mode=MODE.

Modes: train (resumes from DIR), eval (the bound of the latest checkpoint on the held-out
split, to DIR/eval/step_<N>.json), sample (a PNG grid and an .npz of samples). Any config
value can be overridden with --config.a.b=value. Bad input stops with one line on stderr.
"""

from __future__ import annotations

import os
import sys

from absl import app, flags
from ml_collections import config_flags

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Path to a config file with get_config().",
                                lock_config=True)
flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics, samples, eval.")
flags.DEFINE_enum("mode", "train", ["train", "eval", "sample"], "What to do.")
flags.DEFINE_integer("step", None, "Checkpoint step for eval/sample (default: latest).")
flags.DEFINE_float("guidance_w", None, "Classifier-free guidance weight w for sample mode.")
flags.DEFINE_float("guidance_scale", None, "Or diffusers' guidance scale s' = 1 + w.")

USER_ERRORS = (ValueError, KeyError, TypeError, FileNotFoundError, RuntimeError)


def main(argv):
  del argv
  from absl import logging
  logging.set_verbosity(logging.WARNING)   # orbax logs every write at INFO
  if FLAGS.config is None or FLAGS.workdir is None:
    sys.exit("error: --config and --workdir are required")
  try:
    from vdmjax.core.guidance import resolve_w
    from vdmjax.run import run_mode
    w = (None if FLAGS.guidance_w is None and FLAGS.guidance_scale is None
         else resolve_w(FLAGS.guidance_w, FLAGS.guidance_scale))
    run_mode(FLAGS.config, FLAGS.workdir, FLAGS.mode, FLAGS.step, w)
  except USER_ERRORS as e:
    from vdmjax.train.checkpoint import CheckpointError
    from vdmjax.data.sources import DataError
    if os.environ.get("VDMJAX_DEBUG"):
      raise
    kind = type(e).__name__ if not isinstance(e, (CheckpointError, DataError)) else "error"
    sys.exit(f"error: {str(e).splitlines()[0] if str(e) else kind}")


def _parse_flags(argv):
  """absl's parsing, with a bad flag or config override reported in one line."""
  try:
    return FLAGS(argv)
  except (flags.Error, KeyError, ValueError, AttributeError, TypeError) as e:
    msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
    text = " ".join(str(msg).replace("\\n", " ").replace("\\", "").replace("'", "").split())
    override = next((a for a in argv[1:] if a.startswith("--config.")), "")
    sys.exit(f"error: {override + ': ' if override else ''}{text}")


def run():
  app.run(main, flags_parser=_parse_flags)


if __name__ == "__main__":
  run()
