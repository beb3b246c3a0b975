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


def drop_labels(rng, labels, p_uncond, null_label):
  """Classifier-free guidance training: each label becomes the null label with prob. p_uncond."""
  keep = jax.random.uniform(rng, labels.shape) >= p_uncond
  return jnp.where(keep, labels, null_label)


def scale_to_w(scale):
  """diffusers' guidance_scale s' = 1 + w -> Ho & Salimans' w."""
  return scale - 1.0


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


def classifier_guided_denoiser(eps_fn, log_prob_fn, s):
  """Wrap ``eps_fn(z, gamma)`` with classifier guidance of scale s into ``(z, gamma) -> eps~``.

  ``log_prob_fn(z, gamma)`` returns log p(c | z_t) of the target labels, shape (B,).
  """

  def denoiser(z, gamma):
    grad = classifier_log_prob_grad(log_prob_fn, z, gamma)
    return classifier_guidance(eps_fn(z, gamma), grad, jnp.sqrt(jax.nn.sigmoid(gamma)), s)

  return denoiser
