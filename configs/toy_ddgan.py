"""Denoising Diffusion GAN on DD-GAN's 25-Gaussians grid (2-D points), CPU size.

    python -m vdmjax.main --config=configs/toy_ddgan.py --workdir=runs/toy_ddgan --mode=train

Means on {-4, -2, 0, 2, 4}^2, std 0.05 (the paper's Figure 6); T = 4 steps of the paper's
chain; MLP players (3 hidden layers of 256, leaky ReLU, sinusoidal step embedding); a
4-dimensional latent z. experiments/ddgan_25gaussians.py trains it and compares it with
Gaussian-step diffusion samplers.
"""

import ml_collections

from vdmjax.config_files import sample_block


def get_config():
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.method = "ddgan"
  c.data = ml_collections.ConfigDict(dict(name="toy_25gaussians", data_dir=None,
                                          random_flip=False))
  T = ml_collections.FieldReference(4)
  nz = ml_collections.FieldReference(4)
  c.model = ml_collections.ConfigDict()
  c.model.generator = ml_collections.ConfigDict(dict(
      name="ddgan_toy_generator", out_dim=2, nz=nz, hidden=256, depth=3, t_emb_dim=32))
  c.model.discriminator = ml_collections.ConfigDict(dict(
      name="ddgan_toy_discriminator", hidden=256, depth=3, t_emb_dim=32))
  c.objective = ml_collections.ConfigDict(dict(
      T=T, nz=nz, r1_gamma=0.02, lazy_reg=15, beta_min=0.1, beta_max=20.0))
  c.optim = ml_collections.ConfigDict(dict(
      name="adam", lr_g=5e-4, lr_d=5e-4, lr_min=1e-5, b1=0.5, b2=0.9, eps=1e-8,
      weight_decay=0.0, warmup_steps=0, decay="cosine", grad_clip_norm=0.0, ema_decay=0.999))
  c.train = ml_collections.ConfigDict(dict(
      num_steps=6000, batch_size=512, checkpoint_every=2000, eval_every=0, log_every=500,
      keep_checkpoints=3, substeps=1, on_nonfinite="stop", multi_host=False,
      async_checkpoints=True))
  c.eval = ml_collections.ConfigDict(dict(
      batch_size=1000, num_examples=5000, num_draws=1, use_ema=True, method="vlb",
      conditional=False, train_eval_examples=1000))
  c.sample = sample_block(num=4000, steps=T)
  return c
