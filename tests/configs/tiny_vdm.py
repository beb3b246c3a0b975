"""A tiny VDM config for tests: configs/mnist_vdm.py shrunk to seconds per run."""

from vdmjax.config_files import load_config_file


def get_config():
  c = load_config_file("../../configs/mnist_vdm.py", relative_to=__file__)
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
