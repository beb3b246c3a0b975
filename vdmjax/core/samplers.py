"""Samplers for any eps-denoiser ``(z_t, gamma_t) -> eps_hat``, each one lax.scan.

Times run on the grid t(i) = i/N from t = 1 down to t = 0; the schedule is evaluated once on
that grid before the loop. Samples are returned in data space as z_0 / alpha_0.
"""

from __future__ import annotations

from typing import Callable

import chex
import jax
import jax.numpy as jnp

from vdmjax.core import process
from vdmjax.core.guidance import threshold_x
from vdmjax.core.schedules import alpha_sigma


def _reverse_grid(gamma_fn, num_steps):
  """(gamma_t, gamma_s) for the N steps from t = 1 down to t = 1/N."""
  if num_steps < 1:
    raise ValueError(f"sampler: num_steps must be >= 1, got {num_steps}")
  gammas = gamma_fn(jnp.arange(num_steps + 1, dtype=jnp.float32) / num_steps)
  return gammas[1:][::-1], gammas[:-1][::-1], gammas[0]


def _finish(z_0, gamma_0):
  alpha_0, _ = alpha_sigma(gamma_0)
  return z_0 / alpha_0


def _reverse_loop(update, denoiser, gamma_fn, rng, shape, num_steps, clip_x, percentile=0.0):
  """z_1 ~ N(0, I), then ``update(z, eps_hat, x_hat, gamma_t, gamma_s, noise) -> z_s`` for the
  N steps from t = 1 to t = 0 in one lax.scan; returns z_0 / alpha_0. The predicted x is
  clipped (``clip_x``) or dynamically thresholded (``percentile`` > 0) after the denoiser, so
  after any guidance the denoiser applies."""
  gamma_ts, gamma_ss, gamma_0 = _reverse_grid(gamma_fn, num_steps)
  rng_init, rng_loop = jax.random.split(rng)
  keys = jax.random.split(rng_loop, num_steps)

  def step(z, inputs):
    gamma_t, gamma_s, key = inputs
    g_t = jnp.full((shape[0],), gamma_t)
    eps_hat = denoiser(z, g_t)
    chex.assert_shape(eps_hat, shape)
    x_hat = process.x_from_eps(z, eps_hat, g_t)
    if clip_x or percentile:
      x_hat = threshold_x(x_hat, clip_x, percentile)
      eps_hat = process.eps_from_x(z, x_hat, g_t)
    return update(z, eps_hat, x_hat, gamma_t, gamma_s, jax.random.normal(key, shape)), None

  z_0, _ = jax.lax.scan(step, jax.random.normal(rng_init, shape), (gamma_ts, gamma_ss, keys))
  return _finish(z_0, gamma_0)


def ancestral_sample(denoiser: Callable, gamma_fn: Callable, rng, shape, num_steps: int,
                     clip_x: bool = False, percentile: float = 0.0, mean_shift_fn=None):
  """Ancestral sampling of VDM's p(z_s | z_t) = q(z_s | z_t, x = x_hat(z_t)) (VDM eq. 6, 26).

  ``clip_x`` clips the predicted x to [-1, 1] before the posterior mean is formed
  (``percentile`` > 0: dynamic thresholding instead). ``mean_shift_fn(z_t, gamma_t)`` -> g
  moves the mean by Sigma g, Sigma the step's variance: classifier guidance with
  g = s grad log p(c | z_t) (Dhariwal & Nichol 2021, Algorithm 1).
  """

  def update(z, eps_hat, x_hat, gamma_t, gamma_s, noise):
    # alpha_s / alpha_t (z - c sigma_t eps_hat) is the posterior mean at x = x_hat, formed
    # without dividing by alpha_t; with clipping, eps_hat is the clipped x_hat's noise.
    c = process.snr_ratio_complement(gamma_t, gamma_s)
    alpha_t, sigma_t = alpha_sigma(gamma_t)
    alpha_s, sigma_s = alpha_sigma(gamma_s)
    mean = alpha_s / alpha_t * (z - c * sigma_t * eps_hat)
    variance = sigma_s**2 * c
    if mean_shift_fn is not None:
      mean = mean + variance * mean_shift_fn(z, jnp.full((shape[0],), gamma_t))
    return mean + jnp.sqrt(variance) * noise

  return _reverse_loop(update, denoiser, gamma_fn, rng, shape, num_steps, clip_x, percentile)


def ddim_sample(denoiser: Callable, gamma_fn: Callable, rng, shape, num_steps: int,
                eta: float = 0.0, clip_x: bool = False, percentile: float = 0.0):
  """DDIM (Song et al. 2021, eq. 12) in the gamma notation; eta = 0 is deterministic.

  z_s = alpha_s x_hat + sqrt(sigma_s^2 - s_eta^2) eps_hat + s_eta noise with
  s_eta^2 = eta^2 Var[q(z_s | z_t, x)]; eta = 1 gives ancestral sampling.
  """

  def update(z, eps_hat, x_hat, gamma_t, gamma_s, noise):
    alpha_s, sigma_s = alpha_sigma(gamma_s)
    var = eta**2 * sigma_s**2 * process.snr_ratio_complement(gamma_t, gamma_s)
    return (alpha_s * x_hat + jnp.sqrt(jnp.maximum(sigma_s**2 - var, 0.0)) * eps_hat
            + jnp.sqrt(var) * noise)

  return _reverse_loop(update, denoiser, gamma_fn, rng, shape, num_steps, clip_x, percentile)


def to_uint8(x):
  """Round samples in [-1, 1] to the 8-bit grid."""
  return jnp.clip(jnp.round((x + 1.0) * 127.5), 0, 255).astype(jnp.uint8)
