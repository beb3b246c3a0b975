"""Improved DDPM on the embedded MNIST split, CPU size.

    python -m vdmjax.main --config=configs/mnist_iddpm.py --workdir=runs/mnist_iddpm --mode=train

Cosine schedule with T = 1000, learned variances ('learned_range') and the hybrid loss
(lambda = 0.001), importance-free uniform t, a small ADM U-Net (16 channels, mult 1,2,2 on
28x28 -> 7x7: 0.11 GFLOP per image against 0.43 at 32 channels, so that the experiments of
`make reproduce`, which sample and bound it many thousand times, fit their time budget).
`--config.objective.loss=simple|vlb` gives the other objectives of the paper;
`--config.sample.respacing=50` samples with 50 respaced steps. Eval mode computes the exact
1000-term bound (bpd_loop), so it defaults to 200 held-out images.
"""

import ml_collections

from vdmjax.config_files import ode_block, sample_block


def get_config():
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.method = "iddpm"
  c.data = ml_collections.ConfigDict(dict(name="mnist_local", data_dir=None, random_flip=False))
  c.model = ml_collections.ConfigDict()
  c.model.net = ml_collections.ConfigDict(dict(
      name="adm_unet", model_channels=16, out_channels=1, channel_mult=(1, 2, 2),
      num_res_blocks=1, attention_resolutions=(7,), num_heads=2, dropout=0.1,
      scale_shift=True, resblock_updown=True, num_classes=0, learn_sigma=True,
      dtype="float32"))
  c.objective = ml_collections.ConfigDict(dict(
      schedule="cosine", T=1000, var_type="learned_range", loss="hybrid", lambda_vlb=0.001,
      timestep_sampler="uniform", p_uncond=0.0))
  c.optim = ml_collections.ConfigDict(dict(
      name="adam", lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0, warmup_steps=100,
      decay="cosine", grad_clip_norm=1.0, ema_decay=0.999))
  c.train = ml_collections.ConfigDict(dict(
      num_steps=800, batch_size=32, checkpoint_every=200, eval_every=0, log_every=50,
      keep_checkpoints=3, substeps=1, on_nonfinite="stop", multi_host=False,
      async_checkpoints=True))
  c.eval = ml_collections.ConfigDict(dict(
      batch_size=200, num_examples=200, num_draws=1, use_ema=True, method="vlb", ode=ode_block(),
      conditional=False,
      train_eval_examples=200))
  c.sample = sample_block(num=36, steps=1000, respacing="50")
  return c
