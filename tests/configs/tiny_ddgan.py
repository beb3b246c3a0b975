"""A tiny DD-GAN config for tests: configs/mnist_ddgan.py shrunk to seconds per run, with R1
due every second step."""

from vdmjax.config_files import load_config_file


def get_config():
  c = load_config_file("../../configs/mnist_ddgan.py", relative_to=__file__)
  c.model.generator.update(model_channels=8, channel_mult=(1, 2), z_emb_dim=16, nz=8)
  c.model.discriminator.update(ngf=4, t_emb_dim=16)
  c.objective.update(lazy_reg=2)
  c.train.update(num_steps=6, batch_size=8, checkpoint_every=3, log_every=2)
  c.eval.update(batch_size=8, num_examples=8)
  c.sample.update(num=4)
  return c
