"""ADM's noise-aware classifier for ImageNet 128x128 (Dhariwal & Nichol 2021), on the
diffusion of configs/imagenet128_adm_g.py (linear schedule, T = 1000).

    python -m vdmjax.main --config=configs/imagenet128_classifier.py \
        --workdir=gs://BUCKET/adm128_classifier \
        --config.data.data_dir=gs://BUCKET/tensorflow_datasets --config.train.multi_host=True

guided-diffusion's classifier flags for 128x128: --classifier_attention_resolutions 32,16,8
--classifier_depth 2 --classifier_width 128 --classifier_pool attention
--classifier_resblock_updown True --classifier_use_scale_shift_norm True; trained with AdamW
(lr 3e-4, weight decay 0.05), batch 256, 300K iterations, on noised images with t uniform.
"""

from vdmjax.config_files import load_config_file


def get_config():
  c = load_config_file("mnist_classifier.py", relative_to=__file__)
  c.data.name = "imagenet2012"
  c.data.random_flip = True
  c.model.classifier.update(num_classes=1000, model_channels=128,
                            channel_mult=(1, 1, 2, 3, 4), num_res_blocks=2,
                            attention_resolutions=(32, 16, 8), num_head_channels=64)
  c.objective.update(diffusion="iddpm", schedule="linear", T=1000)
  c.optim.update(lr=3e-4, weight_decay=0.05, warmup_steps=0, decay="constant",
                 grad_clip_norm=0.0, ema_decay=0.9999)
  c.train.update(num_steps=300_000, batch_size=256, checkpoint_every=10_000, log_every=1000)
  c.eval.update(batch_size=256, num_examples=10_000)
  return c
