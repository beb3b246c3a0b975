"""Config files: the first layer, read by every other (``get_config()`` of a Python file)."""

from __future__ import annotations

import importlib.util
import os

import ml_collections
from ml_collections.config_dict import placeholder


def load_config_file(path, relative_to=None):
  """``get_config()`` of a config file; ``relative_to`` (a file) resolves a relative path."""
  if relative_to is not None:
    path = os.path.join(os.path.dirname(os.path.abspath(relative_to)), path)
  if not os.path.exists(path):
    raise FileNotFoundError(f"config file {path} not found")
  spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def sample_block(**overrides):
  """The ``sample`` block every diffusion config shares.

  num, steps: how many samples and sampling steps; batch_size: samples per compiled call
  (0 = all ``num`` in one; set it for the 50,000 samples of an FID); sampler 'ancestral' or
  'ddim' (eta: DDIM's noise, 0 = deterministic); respacing (iDDPM): a space_timesteps spec,
  '' = ``steps`` evenly spaced. conditional: sample a class-conditional model with labels
  0, 1, 2, ...
  Guidance: guidance_w is Ho & Salimans' w (eps~ = (1 + w) eps(z, c) - w eps(z)); or give
  guidance_scale, diffusers' s' = 1 + w, instead (not both). classifier_workdir names the
  workdir of a trained noise-aware classifier (configs/mnist_classifier.py) and
  classifier_scale its scale s. threshold_percentile > 0 replaces the clipping of the
  predicted x by Imagen's dynamic thresholding at that quantile (0.995 in Imagen).
  """
  block = ml_collections.ConfigDict(dict(
      num=36, batch_size=0, steps=1000, sampler="ancestral", eta=0.0, respacing="",
      conditional=False,
      guidance_w=placeholder(float), guidance_scale=placeholder(float),
      classifier_workdir="", classifier_scale=1.0, threshold_percentile=0.0))
  block.update(overrides)
  return block


# the probability-flow ODE likelihood (eval.method='ode'; vdmjax.eval.likelihood): adaptive
# solver 'tsit5' or 'dopri5' with rtol / atol, or fixed-step 'heun' / 'euler' with num_steps;
# Hutchinson divergence with num_probes probes ('rademacher' or 'gaussian') unless
# exact_trace; dequantization 'uniform' or 'vdm' (the model's q(z_0 | x) and VDM decoder).
ODE_DEFAULTS = dict(solver="tsit5", rtol=1e-5, atol=1e-5, num_steps=0, num_probes=1,
                    probe="rademacher", exact_trace=False, dequantization="uniform",
                    max_steps=4096)


def ode_block(**overrides):
  """The ``eval.ode`` block: ODE_DEFAULTS with ``overrides``."""
  return ml_collections.ConfigDict(dict(ODE_DEFAULTS, **overrides))
