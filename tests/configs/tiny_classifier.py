"""A tiny noise-aware classifier for tests, on the diffusion of tests/configs/tiny_iddpm.py."""

from vdmjax.config_files import load_config_file


def get_config():
  c = load_config_file("../../configs/mnist_classifier.py", relative_to=__file__)
  c.model.classifier.update(model_channels=8, channel_mult=(1, 2), attention_resolutions=(),
                            num_head_channels=8)
  c.objective.T = 20
  c.train.update(num_steps=4, batch_size=8, checkpoint_every=2, log_every=2)
  c.optim.warmup_steps = 1
  c.eval.update(batch_size=8, num_examples=8)
  return c
