"""The VDM variational bound (Kingma et al. 2021) for any eps-denoiser and schedule.

``vlb`` is the public contract of DESIGN.md: per-example prior, reconstruction and diffusion
terms in nats for uint8 data, in continuous time (T=0, eq. 17) or discrete time (T>0, eq. 13).
"""

from __future__ import annotations

import math
from typing import Callable

import chex
import jax
import jax.numpy as jnp

from vdmjax.core import likelihood, process

WEIGHTINGS = ("vlb", "simple")


def sample_times(rng, batch_size, antithetic=True):
  """t in [0, 1) per example; ``antithetic`` gives VDM's low-discrepancy t_i = mod(u + i/B, 1).

  i/B is formed from an integer range, so exactly B values come out for every B (a float
  ``arange(0, 1, 1/B)`` yields B+1 values for B = 49, 98, 103, ...).
  """
  if not antithetic:
    return jax.random.uniform(rng, (batch_size,))
  u = jax.random.uniform(rng, ())
  return jnp.mod(u + jnp.arange(batch_size, dtype=jnp.float32) / batch_size, 1.0)


def discretize_times(t, num_steps):
  """Map t in [0, 1) to the grid t(i) = i/T, i in {1..T}; returns (t, s = t - 1/T)."""
  i = jnp.maximum(jnp.ceil(t * num_steps), 1.0)
  return i / num_steps, (i - 1.0) / num_steps


def gamma_and_derivative(gamma_fn, t):
  """(gamma(t), d gamma / dt) for an elementwise schedule, by forward-mode autodiff."""
  return jax.jvp(gamma_fn, (t,), (jnp.ones_like(t),))


def _sum_dims(a):
  return jnp.sum(a, axis=tuple(range(1, a.ndim)))


def diffusion_loss_continuous(eps, eps_hat, dgamma_dt):
  """L_inf = gamma'(t) / 2 ||eps - eps_hat||^2 per example (VDM eq. 17)."""
  return 0.5 * dgamma_dt * _sum_dims((eps - eps_hat) ** 2)


def diffusion_loss_discrete(eps, eps_hat, gamma_t, gamma_s, num_steps):
  """L_T = T/2 expm1(gamma_t - gamma_s) ||eps - eps_hat||^2 per example (VDM eq. 13)."""
  return 0.5 * num_steps * jnp.expm1(gamma_t - gamma_s) * _sum_dims((eps - eps_hat) ** 2)


def vlb(x: chex.Array, eps_fn: Callable, gamma_fn: Callable, rng: chex.PRNGKey, T: int = 0,
        antithetic_time: bool = True):
  """The VDM variational bound -log p(x) <= prior + recon + diffusion, per example, in nats.

  Args:
    x: uint8 (or integer-valued) data, batch first, any shape.
    eps_fn: ``eps_fn(z_t, gamma_t) -> eps_hat`` with gamma_t of shape (B,).
    gamma_fn: the schedule ``gamma_fn(t)``, elementwise in t.
    rng: PRNG key for times and noise.
    T: 0 for continuous time, T > 0 for the discrete-time bound of T steps.
    antithetic_time: low-discrepancy times (VDM's default) instead of i.i.d. uniform.

  Returns:
    dict of (B,) arrays: 'prior', 'recon', 'diffusion', 'total' (nats), 'bpd'.
  """
  if T < 0:
    raise ValueError(f"vlb: T must be 0 (continuous) or a positive step count, got {T}")
  chex.assert_rank(x, {1, 2, 3, 4, 5})
  batch = x.shape[0]
  f = likelihood.uint8_to_unit(x)
  rng_t, rng_eps, rng_0 = jax.random.split(rng, 3)
  ends = gamma_fn(jnp.array([0.0, 1.0]))
  gamma_0, gamma_1 = ends[0], ends[1]

  eps_0 = jax.random.normal(rng_0, f.shape)
  z_0 = process.diffuse(f, eps_0, jnp.full((batch,), gamma_0))
  recon = _sum_dims(likelihood.vdm_decoder_nll(x, z_0, jnp.full((batch,), gamma_0)))
  prior = _sum_dims(likelihood.prior_kl(f, jnp.full((batch,), gamma_1)))

  t = sample_times(rng_t, batch, antithetic_time)
  eps = jax.random.normal(rng_eps, f.shape)
  if T == 0:
    gamma_t, dgamma_dt = gamma_and_derivative(gamma_fn, t)
    eps_hat = eps_fn(process.diffuse(f, eps, gamma_t), gamma_t)
    diffusion = diffusion_loss_continuous(eps, eps_hat, dgamma_dt)
  else:
    t, s = discretize_times(t, T)
    gamma_t, gamma_s = gamma_fn(t), gamma_fn(s)
    eps_hat = eps_fn(process.diffuse(f, eps, gamma_t), gamma_t)
    diffusion = diffusion_loss_discrete(eps, eps_hat, gamma_t, gamma_s, T)

  total = prior + recon + diffusion
  num_dims = math.prod(x.shape[1:])
  return {"prior": prior, "recon": recon, "diffusion": diffusion, "total": total,
          "bpd": likelihood.nats_to_bpd(total, num_dims)}


def loss_weight(name, gamma, dgamma_dt):
  """w(v) of the weighted diffusion loss at SNR v = exp(-gamma) for a named weighting.

  'vlb': w = 1, the variational bound. 'simple': w = 1 / gamma'(t), which turns the loss
  into E_t[||eps - eps_hat||^2] / 2, DDPM's L_simple (Ho et al. 2020, eq. 14) up to the 1/2.
  """
  if name == "vlb":
    return jnp.ones_like(gamma)
  if name == "simple":
    return 1.0 / dgamma_dt
  raise ValueError(f"weighting {name!r} is not one of {WEIGHTINGS}")


def weighted_diffusion_loss(x, x_hat, gamma, dgamma_dt, weighting="vlb"):
  """1/2 w(v) (-dv/dt) ||x - x_hat||^2 per example: the integrand over SNR v in time t.

  The slides' L_w = 1/2 E_x int w(v) ||x - x_hat(z_v)||^2 dv over v from SNR_max down to
  SNR_min; with t uniform, dv = -v gamma'(t) dt. For w = 1 it is VDM's continuous loss
  written in x-space.
  """
  w = loss_weight(weighting, gamma, dgamma_dt) if isinstance(weighting, str) else weighting(
      gamma, dgamma_dt)
  minus_dsnr_dt = jnp.exp(-gamma) * dgamma_dt
  return 0.5 * w * minus_dsnr_dt * _sum_dims((x - x_hat) ** 2)
