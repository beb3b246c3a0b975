"""Classifier-free guidance on the embedded MNIST split, CPU size (Ho & Salimans 2022).

    python -m vdmjax.main --config=configs/mnist_cfg.py --workdir=runs/mnist_cfg --mode=train
    python -m vdmjax.main --config=configs/mnist_cfg.py --workdir=runs/mnist_cfg --mode=sample \
        --guidance_w=1.0

configs/mnist_iddpm.py made class-conditional: the ADM U-Net gets a label embedding with a
null label (id 10), and each training label is replaced by the null label with probability
objective.p_uncond = 0.1 (Ho & Salimans' default; 0.2 is their other setting, 0.05 the
lecture notes'). Sample mode draws labels 0, 1, 2, ... and guides with sample.guidance_w
(w = 0: the conditional model; or sample.guidance_scale = 1 + w, diffusers' convention).
Also the diffusion model for classifier guidance (configs/mnist_classifier.py), then with
sample.classifier_workdir set and guidance_w = 0, as ADM-G guides its conditional model.
"""

from vdmjax.config_files import load_config_file


def get_config():
  c = load_config_file("mnist_iddpm.py", relative_to=__file__)
  c.model.net.num_classes = 10
  c.objective.p_uncond = 0.1
  c.train.num_steps = 600
  c.sample.update(num=40, conditional=True, respacing="50")
  return c
