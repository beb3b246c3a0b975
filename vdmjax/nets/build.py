"""Networks from ml_collections config blocks: ``{name: ..., <module fields>}``."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from vdmjax.nets.adm import ADMUNet, NoiseAwareClassifier
from vdmjax.nets.ddgan import (DDGANDiscriminator, DDGANGenerator, DDGANToyDiscriminator,
                               DDGANToyGenerator)
from vdmjax.nets.schedule import NoiseSchedule
from vdmjax.nets.vdm_score import VDMScoreNet

MODULES = {
    "vdm_score": VDMScoreNet,
    "adm_unet": ADMUNet,
    "adm_classifier": NoiseAwareClassifier,
    "ddgan_generator": DDGANGenerator,
    "ddgan_discriminator": DDGANDiscriminator,
    "ddgan_toy_generator": DDGANToyGenerator,
    "ddgan_toy_discriminator": DDGANToyDiscriminator,
    "schedule": NoiseSchedule,
}
DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def build(block, key="model"):
  """Instantiate ``MODULES[block.name]`` with the block's other entries as fields.

  ``dtype`` is the compute dtype ('float32' or 'bfloat16'); parameters stay float32.
  """
  cfg = dict(block)
  name = cfg.pop("name", None)
  if name not in MODULES:
    raise ValueError(f"{key}.name {name!r} is not one of {sorted(MODULES)}")
  cls = MODULES[name]
  fields = {f.name for f in dataclasses.fields(cls)} - {"parent", "name"}
  unknown = sorted(set(cfg) - fields)
  if unknown:
    raise ValueError(f"{key}: unknown keys {unknown} for {name} (valid: {sorted(fields)})")
  if "dtype" in cfg:
    if cfg["dtype"] not in DTYPES:
      raise ValueError(f"{key}.dtype {cfg['dtype']!r} is not one of {sorted(DTYPES)}")
    cfg["dtype"] = DTYPES[cfg["dtype"]]
  for k, v in cfg.items():
    if isinstance(v, list):
      cfg[k] = tuple(v)
  return cls(**cfg)
