"""Denoising Diffusion GAN on CIFAR-10, the paper's configuration (Xiao et al. 2022, Table 1:
FID 3.75, IS 9.63 with T = 4).

    python -m vdmjax.main --config=configs/cifar10_ddgan.py --workdir=gs://BUCKET/cifar10_ddgan \\
        --mode=train --config.data.data_dir=gs://BUCKET/tfds

NVlabs' train_ddgan.py flags for CIFAR-10: --num_timesteps 4 --num_channels_dae 128 --ch_mult
1 2 2 2 --num_res_blocks 2 --nz 100 --z_emb_dim 256 --n_mlp 4 --ngf 64 --lr_d 1.25e-4 --lr_g
1.6e-4 --r1_gamma 0.02 --lazy_reg 15 --use_ema --ema_decay 0.9999 --num_epoch 1800, batch 64 on
each of 4 GPUs (256), Adam (0.5, 0.9), cosine decay to 1e-5, random flips, attention at 16x16.
1800 epochs of 50,000 images at batch 256 are 351,563 steps. Our generator is the ADM U-Net
with adaptive group norm from z rather than the repository's NCSN++ (docs in
vdmjax/nets/ddgan.py); the discriminator is its Discriminator_small.
"""

import ml_collections

from vdmjax.config_files import sample_block


def get_config():
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.method = "ddgan"
  c.data = ml_collections.ConfigDict(dict(name="cifar10", data_dir=None, random_flip=True))
  T = ml_collections.FieldReference(4)
  nz = ml_collections.FieldReference(100)
  c.model = ml_collections.ConfigDict()
  c.model.generator = ml_collections.ConfigDict(dict(
      name="ddgan_generator", nz=nz, z_emb_dim=256, n_mlp=4, model_channels=128, out_channels=3,
      channel_mult=(1, 2, 2, 2), num_res_blocks=2, attention_resolutions=(16,), dropout=0.0,
      use_tanh=True, dtype="float32"))
  c.model.discriminator = ml_collections.ConfigDict(dict(
      name="ddgan_discriminator", ngf=64, t_emb_dim=128, dtype="float32"))
  c.objective = ml_collections.ConfigDict(dict(
      T=T, nz=nz, r1_gamma=0.02, lazy_reg=15, beta_min=0.1, beta_max=20.0))
  c.optim = ml_collections.ConfigDict(dict(
      name="adam", lr_g=1.6e-4, lr_d=1.25e-4, lr_min=1e-5, b1=0.5, b2=0.9, eps=1e-8,
      weight_decay=0.0, warmup_steps=0, decay="cosine", grad_clip_norm=0.0, ema_decay=0.9999))
  c.train = ml_collections.ConfigDict(dict(
      num_steps=351_563, batch_size=256, checkpoint_every=5000, eval_every=0, log_every=100,
      keep_checkpoints=3, substeps=1, on_nonfinite="stop", multi_host=False,
      async_checkpoints=True))
  c.eval = ml_collections.ConfigDict(dict(
      batch_size=256, num_examples=10_000, num_draws=1, use_ema=True, method="vlb",
      conditional=False, train_eval_examples=1000))
  c.sample = sample_block(num=64, steps=T)
  return c
