"""VDM on downsampled ImageNet 32x32 (Kingma et al. 2021, Table 1).

    python -m vdmjax.main --config=configs/imagenet32_vdm.py --workdir=gs://BUCKET/vdm_in32 \
        --config.data.data_dir=gs://BUCKET/tensorflow_datasets --config.train.multi_host=True

The CIFAR-10 network widened to 256 channels without dropout (the larger dataset does not
overfit), batch 512. The paper reaches 3.72 bits per dim on the validation set.
"""

from vdmjax.config_files import load_config_file


def get_config():
  c = load_config_file("cifar10_vdm.py", relative_to=__file__)
  c.data.name = "downsampled_imagenet/32x32"
  c.model.score.update(n_embd=256, n_layer=32, dropout=0.0)
  c.train.update(batch_size=512, num_steps=2_000_000)
  c.eval.update(num_examples=50_000)
  return c
