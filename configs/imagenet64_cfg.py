"""Classifier-free guidance on ImageNet 64x64 (Ho & Salimans 2022), continuous time.

    python -m vdmjax.main --config=configs/imagenet64_cfg.py --workdir=gs://BUCKET/cfg_in64 \
        --config.data.data_dir=gs://BUCKET/tensorflow_datasets --config.train.multi_host=True
    python -m vdmjax.main --config=configs/imagenet64_cfg.py --workdir=gs://BUCKET/cfg_in64 \
        --mode=sample --guidance_w=0.1

The paper's setting: ADM's class-conditional 64x64 architecture (192 channels, multipliers
1,2,3,4, 3 res blocks, attention at 32, 16 and 8 with 64-channel heads, BigGAN up/down blocks,
scale-shift norm, dropout 0.1), trained in continuous time on eps with the unweighted loss
(objective.weighting='simple'), log-SNR lambda = -gamma in [-20, 20] on a cosine schedule
(gamma(t) = -2 log tan(a t + b), our cosine_gamma restricted to those end points), label
dropout p_uncond = 0.1, and 256 ancestral sampling steps. Optimisation follows ADM's 64x64
model (Adam, lr 3e-4, batch 2048, EMA 0.9999). The paper sweeps w: small w (0.1-0.3) gives its
best FID and w of 1 and more its best Inception Score (Table 1, Fig. 4); it reports FID and IS
on 50,000 samples (use `--config.sample.num=50000` and the FID tools of issue 9).
"""

from vdmjax.config_files import load_config_file


def get_config():
  c = load_config_file("mnist_vdm.py", relative_to=__file__)
  c.data.name = "downsampled_imagenet/64x64"
  c.data.random_flip = True
  c.model.score = load_config_file("mnist_cfg.py", relative_to=__file__).model.net
  c.model.score.update(model_channels=192, out_channels=3, channel_mult=(1, 2, 3, 4),
                       num_res_blocks=3, attention_resolutions=(32, 16, 8), num_heads=4,
                       num_head_channels=64, dropout=0.1, learn_sigma=False,
                       num_classes=1000, gamma_range=(-20.0, 20.0))
  c.model.schedule.update(kind="fixed", fixed_shape="cosine", gamma_min=-20.0, gamma_max=20.0)
  c.objective.update(T=0, weighting="simple", schedule_grad="vlb", p_uncond=0.1)
  c.optim.update(name="adam", lr=3e-4, b1=0.9, b2=0.999, weight_decay=0.0, warmup_steps=0,
                 decay="constant", grad_clip_norm=0.0, ema_decay=0.9999)
  c.train.update(num_steps=540_000, batch_size=2048, checkpoint_every=10_000,
                 eval_every=50_000, log_every=1000)
  c.eval.update(batch_size=256, num_examples=10_000)
  c.sample.update(num=64, steps=256, conditional=True, guidance_w=0.1)
  return c
