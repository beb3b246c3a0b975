"""Parameter counts of the paper networks: ``python -m vdmjax.nets.summary``.

Prints ``<name> <parameter count>`` per network, from the paper configs in ``configs/`` where
they exist and from the papers' stated architectures otherwise. Shapes only: nothing is run.
"""

from __future__ import annotations

import math
import os

import jax
import jax.numpy as jnp

from vdmjax.config_files import load_config_file
from vdmjax.nets.adm import ADMUNet, NoiseAwareClassifier
from vdmjax.nets.build import build
from vdmjax.nets.ddgan import DDGANDiscriminator, DDGANGenerator

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "configs")


def _config(name):
  return load_config_file(os.path.join(CONFIG_DIR, f"{name}.py"))


def count(module, *inputs):
  shapes = jax.eval_shape(lambda: module.init(jax.random.PRNGKey(0), *inputs))
  return sum(math.prod(x.shape) for x in jax.tree.leaves(shapes))


def _vdm(config_name, size):
  c = _config(config_name)
  net = build(c.model.score, "model.score")
  x = jnp.zeros((1, size, size, 3))
  return count(net, x, jnp.zeros(1)) + count(build(c.model.schedule), jnp.zeros(1))


def networks():
  """(name, thunk) pairs; a thunk returns the parameter count."""
  z = lambda s: jnp.zeros((1, s, s, 3))
  t = jnp.zeros(1)
  return [
      ("vdm_cifar10", lambda: _vdm("cifar10_vdm", 32)),
      ("vdm_imagenet32", lambda: _vdm("imagenet32_vdm", 32)),
      ("vdm_imagenet64", lambda: _vdm("imagenet64_vdm", 64)),
      # guided-diffusion's ImageNet 64x64 model: 192 channels, mult 1,2,3,4, 3 res blocks,
      # attention at 32,16,8 with 64 channels per head, learned sigma, class-conditional
      ("adm_imagenet64", lambda: count(ADMUNet(
          192, 3, (1, 2, 3, 4), 3, (32, 16, 8), num_head_channels=64, dropout=0.1,
          num_classes=1000, learn_sigma=True), z(64), t, jnp.zeros(1, jnp.int32))),
      # ADM-G 128x128: 256 channels, mult 1,1,2,3,4, 2 res blocks, attention at 32,16,8
      ("adm_imagenet128", lambda: count(ADMUNet(
          256, 3, (1, 1, 2, 3, 4), 2, (32, 16, 8), num_head_channels=64, num_classes=1000,
          learn_sigma=True), z(128), t, jnp.zeros(1, jnp.int32))),
      ("adm_classifier_imagenet128", lambda: count(NoiseAwareClassifier(
          1000, 128, (1, 1, 2, 3, 4), 2, (32, 16, 8), num_head_channels=64), z(128), t)),
      ("ddgan_cifar10_generator", lambda: count(DDGANGenerator(
          model_channels=128, channel_mult=(1, 2, 2, 2), num_res_blocks=2,
          attention_resolutions=(16,)), z(32), t, jnp.zeros((1, 100)))),
      ("ddgan_cifar10_discriminator", lambda: count(DDGANDiscriminator(ngf=64), z(32), z(32), t)),
  ]


def main():
  for name, thunk in networks():
    print(f"{name} {thunk()}", flush=True)


if __name__ == "__main__":
  main()
