"""Improved DDPM on CIFAR-10 with the hybrid objective (Nichol & Dhariwal 2021; improved-diffusion's
README flags: --num_channels 128 --num_res_blocks 3 --learn_sigma True --dropout 0.3
--diffusion_steps 4000 --noise_schedule cosine --lr 1e-4 --batch_size 128).

    python -m vdmjax.main --config=configs/cifar10_iddpm.py --workdir=gs://BUCKET/iddpm_cifar10 \
        --config.data.data_dir=gs://BUCKET/tensorflow_datasets

L_hybrid = L_simple + 0.001 L_vlb, learned variances, cosine schedule with T = 4000, EMA 0.9999,
500K steps. The paper's best CIFAR-10 likelihood is 2.94 bits per dim (with L_vlb, see
configs/cifar10_iddpm_vlb.py); the hybrid objective trades a little NLL for far better samples
and allows sampling with 50-100 respaced steps (sample.respacing).
"""

from vdmjax.config_files import load_config_file


def get_config():
  c = load_config_file("mnist_iddpm.py", relative_to=__file__)
  c.data.name = "cifar10"
  c.data.random_flip = True
  c.model.net.update(model_channels=128, out_channels=3, channel_mult=(1, 2, 2, 2),
                     num_res_blocks=3, attention_resolutions=(16, 8), num_heads=4,
                     dropout=0.3, learn_sigma=True)
  c.objective.update(schedule="cosine", T=4000, var_type="learned_range", loss="hybrid",
                     lambda_vlb=0.001, timestep_sampler="uniform")
  c.optim.update(name="adam", lr=1e-4, warmup_steps=0, decay="constant", grad_clip_norm=0.0,
                 ema_decay=0.9999)
  c.train.update(num_steps=500_000, batch_size=128, checkpoint_every=10_000, eval_every=50_000,
                 log_every=1000)
  c.eval.update(batch_size=256, num_examples=10_000)
  c.sample.update(num=64, respacing="100")
  return c
