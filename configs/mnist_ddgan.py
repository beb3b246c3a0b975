"""Denoising Diffusion GAN on the embedded MNIST split, CPU size.

    python -m vdmjax.main --config=configs/mnist_ddgan.py --workdir=runs/mnist_ddgan --mode=train

T = 4 steps of the paper's discretised VP chain; generator: a small ADM U-Net with adaptive
group norm from the latent z (16 channels, mult 1,2,2 on 28x28 -> 7x7, tanh output);
discriminator: Discriminator_small at ngf 8; batch 32, 800 steps (about 0.5 s per step on 2
idle CPU cores: the step runs the generator twice and the discriminator four times). Adam
(0.5, 0.9) per player with the paper's CIFAR-10 learning rates, cosine decay to 1e-5, R1 gamma
0.02 every 15 steps, EMA of the players. `--config.objective.T=1|2|8` gives the paper's T
ablation (sample.steps follows T; experiments/ddgan_mnist.py runs it).
"""

import ml_collections

from vdmjax.config_files import sample_block


def get_config():
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.method = "ddgan"
  c.data = ml_collections.ConfigDict(dict(name="mnist_local", data_dir=None, random_flip=False))
  T = ml_collections.FieldReference(4)
  nz = ml_collections.FieldReference(100)
  c.model = ml_collections.ConfigDict()
  c.model.generator = ml_collections.ConfigDict(dict(
      name="ddgan_generator", nz=nz, z_emb_dim=64, n_mlp=2, model_channels=16, out_channels=1,
      channel_mult=(1, 2, 2), num_res_blocks=1, attention_resolutions=(), dropout=0.0,
      use_tanh=True, dtype="float32"))
  c.model.discriminator = ml_collections.ConfigDict(dict(
      name="ddgan_discriminator", ngf=8, t_emb_dim=64, dtype="float32"))
  c.objective = ml_collections.ConfigDict(dict(
      T=T, nz=nz, r1_gamma=0.02, lazy_reg=15, beta_min=0.1, beta_max=20.0))
  c.optim = ml_collections.ConfigDict(dict(
      name="adam", lr_g=1.6e-4, lr_d=1.25e-4, lr_min=1e-5, b1=0.5, b2=0.9, eps=1e-8,
      weight_decay=0.0, warmup_steps=0, decay="cosine", grad_clip_norm=0.0, ema_decay=0.999))
  c.train = ml_collections.ConfigDict(dict(
      num_steps=800, batch_size=32, checkpoint_every=200, eval_every=0, log_every=50,
      keep_checkpoints=3, substeps=1, on_nonfinite="stop", multi_host=False,
      async_checkpoints=True))
  c.eval = ml_collections.ConfigDict(dict(
      batch_size=200, num_examples=2000, num_draws=1, use_ema=True, method="vlb",
      conditional=False, train_eval_examples=400))
  c.sample = sample_block(num=64, steps=T)
  return c
