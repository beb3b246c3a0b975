"""Fourier features of the input (VDM, Kingma et al. 2021, Sec. 3.3 and Appendix C)."""

from __future__ import annotations

import jax.numpy as jnp


def fourier_features(z, n_min=7, n_max=8):
  """sin(2^n pi z) and cos(2^n pi z) for n in [n_min, n_max], per input channel.

  Returns the features only, channels ordered [sin(n_min) .. sin(n_max), cos(...)] for each
  input channel: shape z.shape[:-1] + (2 (n_max - n_min + 1) C,).
  """
  freqs = 2.0 ** jnp.arange(n_min, n_max + 1, dtype=z.dtype) * jnp.pi
  h = z[..., :, None] * freqs              # (..., C, F)
  h = jnp.concatenate([jnp.sin(h), jnp.cos(h)], axis=-1)
  return h.reshape(z.shape[:-1] + (-1,))


def append_fourier_features(z, n_min=7, n_max=8, enabled=True):
  """z with its Fourier features appended on the channel axis (the network input)."""
  if not enabled:
    return z
  return jnp.concatenate([z, fourier_features(z, n_min, n_max)], axis=-1)
