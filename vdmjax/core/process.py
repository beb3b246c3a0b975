"""The forward process q and its posteriors, in the gamma notation (VDM, Kingma et al. 2021).

All coefficients go through softplus / log-sigmoid / expm1 forms so that they stay finite
and accurate in float32 for gamma in [-30, 30], where alpha^2 or sigma^2 fall below 1e-13.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from vdmjax.core.schedules import alpha_sigma


def _bcast(coef, like):
  """Reshape a per-example coefficient (B,) to broadcast against a batch-first array."""
  coef = jnp.asarray(coef)
  return coef.reshape(coef.shape + (1,) * (jnp.ndim(like) - coef.ndim))


def q_zt_given_x(x, gamma):
  """q(z_t | x) = N(alpha_t x, sigma_t^2 I) (VDM eq. 1): returns (mean, variance)."""
  alpha, sigma = alpha_sigma(_bcast(gamma, x))
  return alpha * x, jnp.broadcast_to(sigma**2, jnp.shape(x))


def diffuse(x, eps, gamma):
  """A draw z_t = alpha_t x + sigma_t eps of q(z_t | x)."""
  alpha, sigma = alpha_sigma(_bcast(gamma, x))
  return alpha * x + sigma * eps


def log_alpha_ts(gamma_t, gamma_s):
  """log alpha_{t|s} = log(alpha_t / alpha_s) = (softplus(gamma_s) - softplus(gamma_t)) / 2."""
  return 0.5 * (jax.nn.softplus(gamma_s) - jax.nn.softplus(gamma_t))


def sigma2_ts(gamma_t, gamma_s):
  """sigma^2_{t|s} = sigma_t^2 - alpha_{t|s}^2 sigma_s^2 = -expm1(softplus(g_s) - softplus(g_t))."""
  return -jnp.expm1(jax.nn.softplus(gamma_s) - jax.nn.softplus(gamma_t))


def q_zt_given_zs(z_s, gamma_t, gamma_s):
  """q(z_t | z_s) = N(alpha_{t|s} z_s, sigma^2_{t|s} I) for s < t (VDM eq. 2-3)."""
  a = jnp.exp(log_alpha_ts(_bcast(gamma_t, z_s), _bcast(gamma_s, z_s)))
  var = sigma2_ts(_bcast(gamma_t, z_s), _bcast(gamma_s, z_s))
  return a * z_s, jnp.broadcast_to(var, jnp.shape(z_s))


def snr_ratio_complement(gamma_t, gamma_s):
  """c = 1 - SNR(t) / SNR(s) = -expm1(gamma_s - gamma_t), in (0, 1] for s < t."""
  return -jnp.expm1(gamma_s - gamma_t)


def posterior_coefs(gamma_t, gamma_s):
  """Coefficients of q(z_s | z_t, x) = N(coef_z z_t + coef_x x, var) (VDM eq. 4-6).

  With c = 1 - SNR_t / SNR_s: coef_x = alpha_s c, coef_z = alpha_s (1 - c) / alpha_t and
  var = sigma_s^2 c; coef_z is formed in log space so that it is finite when alpha_t -> 0.
  """
  c = snr_ratio_complement(gamma_t, gamma_s)
  log_alpha2_s = jax.nn.log_sigmoid(-gamma_s)
  log_alpha2_t = jax.nn.log_sigmoid(-gamma_t)
  coef_z = jnp.exp((gamma_s - gamma_t) + 0.5 * (log_alpha2_s - log_alpha2_t))
  coef_x = jnp.exp(0.5 * log_alpha2_s) * c
  var = jax.nn.sigmoid(gamma_s) * c
  return coef_z, coef_x, var


def q_zs_given_zt_x(z_t, x, gamma_t, gamma_s):
  """Posterior q(z_s | z_t, x) for s < t: returns (mean, variance), each shaped like z_t."""
  chex.assert_equal_shape([z_t, x])
  coef_z, coef_x, var = (_bcast(a, z_t) for a in posterior_coefs(gamma_t, gamma_s))
  return coef_z * z_t + coef_x * x, jnp.broadcast_to(var, jnp.shape(z_t))


def x_from_eps(z_t, eps, gamma_t):
  """x = (z_t - sigma_t eps) / alpha_t: the data prediction implied by an eps prediction."""
  alpha, sigma = alpha_sigma(_bcast(gamma_t, z_t))
  return (z_t - sigma * eps) / alpha


def eps_from_x(z_t, x, gamma_t):
  """eps = (z_t - alpha_t x) / sigma_t: the noise prediction implied by a data prediction."""
  alpha, sigma = alpha_sigma(_bcast(gamma_t, z_t))
  return (z_t - alpha * x) / sigma


def eps_from_v(z_t, v, gamma_t):
  """eps = sigma_t z_t + alpha_t v for the v-prediction v = alpha_t eps - sigma_t x."""
  alpha, sigma = alpha_sigma(_bcast(gamma_t, z_t))
  return sigma * z_t + alpha * v
