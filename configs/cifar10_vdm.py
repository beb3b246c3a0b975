"""VDM on CIFAR-10 with the paper's settings (Kingma et al. 2021, Table 1 and Appendix B).

    python -m vdmjax.main --config=configs/cifar10_vdm.py --workdir=gs://BUCKET/vdm_cifar10 \
        --config.data.data_dir=gs://BUCKET/tensorflow_datasets --mode=train

32 ResNet blocks of 128 channels at 32x32, dropout 0.1, Fourier features, a learned
(learnable_nnet) schedule with gamma in [-13.3, 5.0], continuous time, AdamW (lr 2e-4,
b2 0.99, weight decay 0.01), EMA 0.9999, batch 128, 10M steps. The paper reaches 2.65 bits
per dim on the CIFAR-10 test set without data augmentation (2.49 with augmentation).

Likelihood of a checkpoint on the 10,000 test images, one command:

    python -m vdmjax.main --config=configs/cifar10_vdm.py --workdir=... --mode=eval \
        --config.eval.method=vlb      # or ode (probability-flow ODE, eval.ode options)

Cost per device, from throughput measured with benchmarks/eval_throughput.py on this
project's 2-core CPU (a shared, loaded machine, so an upper bound): one VLB draw of a batch of
8 takes 9.5 s (0.84 images/s), i.e. 3.3 hours for the test set per draw; one evaluation of the
ODE's vector field with a Hutchinson probe takes 20.4 s per batch of 8, so at ~150 function
evaluations (rtol = atol = 1e-5; the eval JSON reports the measured count) the ODE needs about
1,060 CPU-hours. An accelerator's time follows from the same two per-batch figures measured
there (the script records them).
"""

from vdmjax.config_files import load_config_file


def get_config():
  c = load_config_file("mnist_vdm.py", relative_to=__file__)
  c.data.name = "cifar10"
  c.model.score.update(n_embd=128, n_layer=32, dropout=0.1, with_attention=False,
                       scan_blocks="auto", remat=False)
  c.model.schedule.update(kind="learnable_nnet", n_features=1024)
  c.objective.update(T=0, schedule_grad="variance")
  c.optim.update(name="adamw", lr=2e-4, b1=0.9, b2=0.99, eps=1e-8, weight_decay=0.01,
                 warmup_steps=0, decay="constant", grad_clip_norm=0.0, ema_decay=0.9999)
  c.train.update(num_steps=10_000_000, batch_size=128, checkpoint_every=10_000,
                 eval_every=50_000, log_every=1000, keep_checkpoints=5, multi_host=False)
  c.eval.update(batch_size=512, num_examples=10_000, num_draws=1, train_eval_examples=2048)
  c.sample.update(num=64, steps=1000)
  return c
