"""The demo: train configs/mnist_vdm.py on CPU, draw samples, evaluate the held-out bound.

    python -m vdmjax.demo --workdir=runs/mnist_vdm_demo     (what `make demo` runs)

Its last lines: the held-out bpd with its parts, the eval JSON's path and the sample grid's.
"""

from __future__ import annotations

import os
import sys
import time

from absl import app, flags, logging

flags.DEFINE_string("workdir", "runs/mnist_vdm_demo", "Where the run goes.")
flags.DEFINE_string("config_path", None, "Config file (default: configs/mnist_vdm.py).")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  from vdmjax.run import run_mode
  from vdmjax.config_files import load_config_file
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  path = FLAGS.config_path or os.path.join(root, "configs", "mnist_vdm.py")
  if not os.path.exists(path):
    sys.exit(f"error: config file {path} not found")
  config = load_config_file(path)
  t0 = time.time()
  run_mode(config, FLAGS.workdir, "train")
  t_train = time.time() - t0
  sample = run_mode(config, FLAGS.workdir, "sample")
  result = run_mode(config, FLAGS.workdir, "eval")
  print(f"demo: trained {config.train.num_steps} steps in {t_train:.0f} s, total "
        f"{time.time() - t0:.0f} s")
  print(f"held-out bpd: {result['bpd']:.4f} +- {result['bpd_se']:.4f} (prior "
        f"{result['prior']:.4f}, recon {result['recon']:.4f}, diffusion "
        f"{result['diffusion']:.4f})")
  print(f"eval json: {result['path']}")
  print(f"sample grid: {sample['path']}")


if __name__ == "__main__":
  app.run(main)
