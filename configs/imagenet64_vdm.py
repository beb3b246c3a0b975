"""VDM on downsampled ImageNet 64x64 (Kingma et al. 2021, Table 1).

    python -m vdmjax.main --config=configs/imagenet64_vdm.py --workdir=gs://BUCKET/vdm_in64 \
        --config.data.data_dir=gs://BUCKET/tensorflow_datasets --config.train.multi_host=True

The ImageNet 32x32 network at 64x64 resolution (256 channels, 32 blocks, no dropout), with the
block stack rematerialised to fit memory, batch 512. The paper reaches 3.40 bits per dim.
"""

import importlib.util
import os


def get_config():
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "imagenet32_vdm.py")
  spec = importlib.util.spec_from_file_location("imagenet32_vdm", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  c = module.get_config()
  c.data.name = "downsampled_imagenet/64x64"
  c.model.score.update(remat=True)
  return c
