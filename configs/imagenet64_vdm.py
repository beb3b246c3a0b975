"""VDM on downsampled ImageNet 64x64 (Kingma et al. 2021, Table 1).

    python -m vdmjax.main --config=configs/imagenet64_vdm.py --workdir=gs://BUCKET/vdm_in64 \
        --config.data.data_dir=gs://BUCKET/tensorflow_datasets --config.train.multi_host=True

The ImageNet 32x32 network at 64x64 resolution (256 channels, 32 blocks, no dropout), with the
block stack rematerialised to fit memory, batch 512. The paper reaches 3.40 bits per dim.
"""

from vdmjax.config_files import load_config_file


def get_config():
  c = load_config_file("imagenet32_vdm.py", relative_to=__file__)
  c.data.name = "downsampled_imagenet/64x64"
  c.model.score.update(remat=True)
  return c
