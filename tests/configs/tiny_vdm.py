"""A tiny VDM config for tests: configs/mnist_vdm.py shrunk to seconds per run."""

import importlib.util
import os

_BASE = os.path.join(os.path.dirname(__file__), "..", "..", "configs", "mnist_vdm.py")


def get_config():
  spec = importlib.util.spec_from_file_location("mnist_vdm", _BASE)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  c = module.get_config()
  c.model.score.n_embd = 8
  c.model.score.n_layer = 1
  c.model.score.dropout = 0.0
  c.model.schedule.n_features = 16
  c.train.num_steps = 6
  c.train.batch_size = 8
  c.train.checkpoint_every = 3
  c.train.log_every = 2
  c.optim.warmup_steps = 2
  c.eval.batch_size = 8
  c.eval.num_examples = 16
  c.sample.num = 4
  c.sample.steps = 5
  return c
