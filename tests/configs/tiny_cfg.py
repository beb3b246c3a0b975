"""A tiny class-conditional Improved DDPM with label dropout for tests (configs/mnist_cfg.py)."""

from vdmjax.config_files import load_config_file


def get_config():
  c = load_config_file("tiny_iddpm.py", relative_to=__file__)
  c.model.net.num_classes = 10
  c.objective.update(p_uncond=0.1, timestep_sampler="uniform")
  c.sample.update(conditional=True)
  return c
