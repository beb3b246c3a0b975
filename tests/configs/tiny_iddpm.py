"""A tiny Improved DDPM config for tests: configs/mnist_iddpm.py shrunk to seconds per run."""

from vdmjax.config_files import load_config_file


def get_config():
  c = load_config_file("../../configs/mnist_iddpm.py", relative_to=__file__)
  c.model.net.update(model_channels=8, channel_mult=(1, 2), attention_resolutions=(),
                     dropout=0.0)
  c.objective.update(T=20, timestep_sampler="importance")
  c.train.update(num_steps=6, batch_size=8, checkpoint_every=3, log_every=2)
  c.optim.warmup_steps = 2
  c.eval.update(batch_size=8, num_examples=8)
  c.sample.update(num=4, respacing="5")
  return c
