"""VDM on the embedded MNIST split, CPU size: the demo (`make demo`).

    python -m vdmjax.main --config=configs/mnist_vdm.py --workdir=runs/mnist_vdm --mode=train

Continuous time, learnable_nnet schedule trained for low variance, Fourier features, a 2-block
VDM score network of 32 channels, 800 steps of batch 32: about 7 minutes on 2 CPU cores.
"""

import ml_collections

from vdmjax.config_files import ode_block, sample_block


def get_config():
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.method = "vdm"

  c.data = ml_collections.ConfigDict(dict(name="mnist_local", data_dir=None, random_flip=False))

  gamma_min = ml_collections.FieldReference(-13.3)
  gamma_max = ml_collections.FieldReference(5.0)
  c.model = ml_collections.ConfigDict()
  c.model.score = ml_collections.ConfigDict(dict(
      name="vdm_score", n_embd=32, n_layer=2, dropout=0.1, with_attention=False,
      gamma_min=gamma_min, gamma_max=gamma_max, fourier=True, fourier_n_min=7, fourier_n_max=8,
      num_classes=0, scan_blocks="auto", scan_unroll=1, conv="auto", remat=False,
      dtype="float32"))
  c.model.schedule = ml_collections.ConfigDict(dict(
      name="schedule", kind="learnable_nnet", gamma_min=gamma_min, gamma_max=gamma_max,
      n_features=1024))

  c.objective = ml_collections.ConfigDict(dict(
      T=0, schedule_grad="variance", weighting="vlb", p_uncond=0.0, antithetic_time=True))

  c.optim = ml_collections.ConfigDict(dict(
      name="adamw", lr=2e-3, b1=0.9, b2=0.99, eps=1e-8, weight_decay=0.01, warmup_steps=100,
      decay="cosine", grad_clip_norm=1.0, ema_decay=0.998))

  c.train = ml_collections.ConfigDict(dict(
      num_steps=800, batch_size=32, checkpoint_every=200, eval_every=0, log_every=50,
      keep_checkpoints=3, substeps=1, on_nonfinite="stop", multi_host=False,
      async_checkpoints=True))

  c.eval = ml_collections.ConfigDict(dict(
      batch_size=200, num_examples=2000, num_draws=1, use_ema=True, method="vlb", ode=ode_block(),
      conditional=False,
      train_eval_examples=400))

  c.sample = sample_block(num=36, steps=200)
  return c
