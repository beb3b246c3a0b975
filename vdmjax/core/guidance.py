"""Guidance rules as pure functions and as denoiser wrappers.

Notation (DESIGN.md): classifier-free guidance with weight w as in Ho & Salimans (2022, eq. 6),
eps~ = (1 + w) eps(z, c) - w eps(z); diffusers' / CFG's scale is s' = 1 + w. Classifier
guidance (Dhariwal & Nichol 2021, Algorithm 2) with classifier scale s:
eps~ = eps - s sigma_t grad_z log p(c | z_t), where sigma_t = sqrt(1 - alphabar_t); in the
ancestral form (their Algorithm 1) the mean moves by s Sigma grad_z log p(c | z_t).
For exact scores both are the same rule: eps~ = -sigma grad log[p(z|c) p(c|z)^w].
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from vdmjax.core.process import _bcast


def cfg(eps_cond, eps_uncond, w):
  """Classifier-free guidance: (1 + w) eps_cond - w eps_uncond."""
  chex.assert_equal_shape([eps_cond, eps_uncond])
  return (1.0 + w) * eps_cond - w * eps_uncond


def is_guided(w):
  """Whether classifier-free guidance runs (the doubled-batch network call): always for a jax
  array, whose value may be known only at run time (Experiment.sample passes w traced, so one
  compiled sampler serves every w), otherwise when the number w is not 0."""
  return isinstance(w, jax.Array) or bool(w)


def drop_labels(rng, labels, p_uncond, null_label):
  """Classifier-free guidance training: each label becomes the null label with prob. p_uncond."""
  keep = jax.random.uniform(rng, labels.shape) >= p_uncond
  return jnp.where(keep, labels, null_label)


def scale_to_w(scale):
  """diffusers' guidance_scale s' = 1 + w -> Ho & Salimans' w."""
  return scale - 1.0


def resolve_w(guidance_w=None, guidance_scale=None):
  """The guidance weight w from a config giving either w or diffusers' scale s' = 1 + w."""
  if guidance_w is not None and guidance_scale is not None:
    raise ValueError(f"sample.guidance_w = {guidance_w} and sample.guidance_scale = "
                     f"{guidance_scale}: give one (w = scale - 1)")
  if guidance_scale is not None:
    return scale_to_w(guidance_scale)
  return 0.0 if guidance_w is None else guidance_w


def dynamic_threshold(x, percentile):
  """Imagen's dynamic thresholding (Saharia et al. 2022, Sec. 2.3): per example, s = the
  ``percentile`` quantile of |x| (at least 1); x is clipped to [-s, s] and divided by s."""
  flat = jnp.abs(x.reshape(x.shape[0], -1))
  s = jnp.maximum(jnp.quantile(flat, percentile, axis=1), 1.0)
  s = _bcast(s, x)
  return jnp.clip(x, -s, s) / s


def threshold_x(x, clip_x=False, percentile=0.0):
  """The predicted x after guidance: dynamic thresholding if ``percentile`` > 0, else static
  clipping to [-1, 1] if ``clip_x``, else unchanged."""
  if percentile:
    return dynamic_threshold(x, percentile)
  return jnp.clip(x, -1.0, 1.0) if clip_x else x


def classifier_guidance(eps, grad_log_prob, sigma, s):
  """eps - s sigma grad_z log p(c | z_t) (Dhariwal & Nichol 2021, Algorithm 2)."""
  return eps - s * _bcast(sigma, eps) * grad_log_prob


def classifier_guided_mean(mean, variance, grad_log_prob, s):
  """mean + s Sigma grad_z log p(c | z_t) (Dhariwal & Nichol 2021, Algorithm 1)."""
  return mean + s * variance * grad_log_prob


def cfg_denoiser(cond_eps_fn, labels, null_label, w):
  """Wrap ``cond_eps_fn(z, gamma, labels)`` into a guided denoiser ``(z, gamma) -> eps~``.

  The conditional and unconditional passes run as one network call on a doubled batch.
  """

  def denoiser(z, gamma):
    batch = z.shape[0]
    both = cond_eps_fn(jnp.concatenate([z, z]), jnp.concatenate([gamma, gamma]),
                       jnp.concatenate([labels, jnp.full_like(labels, null_label)]))
    return cfg(both[:batch], both[batch:], w)

  return denoiser


def classifier_log_prob_grad(log_prob_fn, z, gamma):
  """grad_z sum_i log p(c_i | z_i, gamma_i); ``log_prob_fn(z, gamma) -> (B,)``."""
  return jax.grad(lambda z_: jnp.sum(log_prob_fn(z_, gamma)))(z)


def shifted_denoiser(eps_fn, cond_fn):
  """Wrap ``eps_fn(z, gamma)`` into ``(z, gamma) -> eps - sigma_t cond_fn(z, gamma)``, where
  ``cond_fn`` returns s grad_z log p(c | z_t) (classifier guidance, Algorithm 2)."""

  def denoiser(z, gamma):
    return classifier_guidance(eps_fn(z, gamma), cond_fn(z, gamma),
                               jnp.sqrt(jax.nn.sigmoid(gamma)), 1.0)

  return denoiser


def classifier_guided_denoiser(eps_fn, log_prob_fn, s):
  """Wrap ``eps_fn(z, gamma)`` with classifier guidance of scale s into ``(z, gamma) -> eps~``.

  ``log_prob_fn(z, gamma)`` returns log p(c | z_t) of the target labels, shape (B,).
  """
  return shifted_denoiser(
      eps_fn, lambda z, gamma: s * classifier_log_prob_grad(log_prob_fn, z, gamma))
