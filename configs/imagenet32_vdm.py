"""VDM on downsampled ImageNet 32x32 (Kingma et al. 2021, Table 1).

    python -m vdmjax.main --config=configs/imagenet32_vdm.py --workdir=gs://BUCKET/vdm_in32 \
        --config.data.data_dir=gs://BUCKET/tensorflow_datasets --config.train.multi_host=True

The CIFAR-10 network widened to 256 channels without dropout (the larger dataset does not
overfit), batch 512. The paper reaches 3.72 bits per dim on the validation set.
"""

import importlib.util
import os


def get_config():
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cifar10_vdm.py")
  spec = importlib.util.spec_from_file_location("cifar10_vdm", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  c = module.get_config()
  c.data.name = "downsampled_imagenet/32x32"
  c.model.score.update(n_embd=256, n_layer=32, dropout=0.0)
  c.train.update(batch_size=512, num_steps=2_000_000)
  c.eval.update(num_examples=50_000)
  return c
