"""Improved DDPM on CIFAR-10 trained on L_vlb with importance-sampled timesteps (improved-diffusion:
--use_kl True --schedule_sampler loss-second-moment).

    python -m vdmjax.main --config=configs/cifar10_iddpm_vlb.py --workdir=gs://BUCKET/iddpm_vlb

The paper's best CIFAR-10 likelihood: 2.94 bits per dim.
"""

from vdmjax.config_files import load_config_file


def get_config():
  c = load_config_file("cifar10_iddpm.py", relative_to=__file__)
  c.objective.update(loss="vlb", timestep_sampler="importance")
  return c
