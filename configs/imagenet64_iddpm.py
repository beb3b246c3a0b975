"""Improved DDPM on ImageNet 64x64, L_vlb with importance sampling (Nichol & Dhariwal 2021).

    python -m vdmjax.main --config=configs/imagenet64_iddpm.py --workdir=gs://BUCKET/iddpm_in64 \
        --config.data.data_dir=gs://BUCKET/tensorflow_datasets --config.train.multi_host=True

128 channels, multipliers 1,2,3,4, 3 res blocks, attention at 16 and 8, learned sigmas, cosine
schedule with T = 4000, lr 1e-4, batch 128. The paper reaches 3.53 bits per dim;
`--config.objective.loss=hybrid --config.objective.timestep_sampler=uniform` gives the
hybrid model used for its sample-quality results.
"""

from vdmjax.config_files import load_config_file


def get_config():
  c = load_config_file("cifar10_iddpm.py", relative_to=__file__)
  c.data.name = "downsampled_imagenet/64x64"
  c.data.random_flip = False
  c.model.net.update(channel_mult=(1, 2, 3, 4), dropout=0.0)
  c.objective.update(loss="vlb", timestep_sampler="importance")
  c.train.update(num_steps=1_500_000)
  c.eval.update(num_examples=50_000)
  return c
