"""The noise-aware classifier for classifier guidance on MNIST, CPU size (Dhariwal & Nichol
2021, Sec. 4): ADM's encoder with attention pooling, trained with cross-entropy on
z_t ~ q(z_t | x), t uniform, under the diffusion of configs/mnist_cfg.py (cosine, T = 1000).

    python -m vdmjax.main --config=configs/mnist_classifier.py --workdir=runs/mnist_classifier
    python -m vdmjax.main --config=configs/mnist_cfg.py --workdir=runs/mnist_cfg --mode=sample \
        --config.sample.classifier_workdir=runs/mnist_classifier \
        --config.sample.classifier_scale=2.0

Eval mode reports held-out cross-entropy (nats) and accuracy on noised images, t uniform.
For a VDM model set objective.diffusion='vdm' with the model's gamma_min / gamma_max
(linear or cosine schedule over that range); the classifier then embeds gamma_t.
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.method = "classifier"
  c.data = ml_collections.ConfigDict(dict(name="mnist_local", data_dir=None, random_flip=False))
  c.model = ml_collections.ConfigDict()
  c.model.classifier = ml_collections.ConfigDict(dict(
      name="adm_classifier", num_classes=10, model_channels=16, channel_mult=(1, 2, 2),
      num_res_blocks=1, attention_resolutions=(7,), num_head_channels=32, dropout=0.0,
      scale_shift=True, resblock_updown=True, conv="auto", dtype="float32"))
  c.objective = ml_collections.ConfigDict(dict(
      diffusion="iddpm", schedule="cosine", T=1000, gamma_min=-13.3, gamma_max=5.0))
  # guided-diffusion's classifier: AdamW, lr 3e-4 (1e-3 at this size), weight decay 0.05
  c.optim = ml_collections.ConfigDict(dict(
      name="adamw", lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.05, warmup_steps=50,
      decay="cosine", grad_clip_norm=1.0, ema_decay=0.999))
  c.train = ml_collections.ConfigDict(dict(
      num_steps=800, batch_size=64, checkpoint_every=200, eval_every=0, log_every=50,
      keep_checkpoints=2, substeps=1, on_nonfinite="stop", multi_host=False,
      async_checkpoints=True))
  c.eval = ml_collections.ConfigDict(dict(
      batch_size=200, num_examples=2000, num_draws=1, use_ema=True, train_eval_examples=400))
  c.sample = ml_collections.ConfigDict(dict(num=0))
  return c
