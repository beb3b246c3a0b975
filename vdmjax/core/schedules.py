"""Noise schedules in the gamma notation: gamma(t) = -log SNR(t), increasing in t.

Every schedule is a plain jnp function of t, so its time derivative is ``jax.grad`` /
``jax.jvp`` of it. Discrete DDPM tables (betas) are float64 numpy arrays, exactly as
improved-diffusion builds them, and convert to gamma with :func:`betas_to_gamma`.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

COSINE_S = 0.008


def alpha_sigma(gamma):
  """(alpha, sigma) of the variance-preserving process: alpha^2 = sigmoid(-gamma)."""
  return jnp.sqrt(jax.nn.sigmoid(-gamma)), jnp.sqrt(jax.nn.sigmoid(gamma))


def linear_gamma(t, gamma_min=-13.3, gamma_max=5.0):
  """VDM's fixed linear log-SNR schedule (Kingma et al. 2021, Sec. 5)."""
  return gamma_min + (gamma_max - gamma_min) * t


def _cosine_phase(t, s):
  return (t + s) / (1.0 + s) * (math.pi / 2)


def _cosine_t_of_gamma(gamma, s):
  """Inverse of the unscaled cosine schedule: t such that cosine_gamma(t) = gamma."""
  alphabar = 1.0 / (1.0 + math.exp(gamma))
  phase = math.acos(math.sqrt(alphabar) * math.cos(_cosine_phase(0.0, s)))
  return phase * 2 / math.pi * (1.0 + s) - s


def cosine_gamma(t, s=COSINE_S, gamma_min=None, gamma_max=None):
  """Nichol & Dhariwal's cosine schedule (Improved DDPM, eq. 17) as gamma(t).

  alphabar(t) = f(t) / f(0) with f(t) = cos^2((t + s) / (1 + s) * pi / 2), so
  gamma(t) = log((1 - alphabar) / alphabar); gamma(1) = +inf. With ``gamma_min`` and
  ``gamma_max`` the same curve is restricted to the time interval on which it runs from
  gamma_min to gamma_max and that interval is mapped onto [0, 1]: a cosine schedule with
  the end points of a given linear one (VDM's invariance, Sec. 5.1).
  """
  if (gamma_min is None) != (gamma_max is None):
    raise ValueError("cosine_gamma: give both gamma_min and gamma_max, or neither")
  if gamma_min is not None:
    t0, t1 = _cosine_t_of_gamma(gamma_min, s), _cosine_t_of_gamma(gamma_max, s)
    t = t0 + (t1 - t0) * t
  # 1 - alphabar = (cos^2 phi_0 - cos^2 phi) / cos^2 phi_0 = sin(phi - phi_0) sin(phi + phi_0)
  # / cos^2 phi_0, with phi - phi_0 = t / (1 + s) * pi / 2 formed exactly: accurate near t = 0.
  phase_0 = _cosine_phase(0.0, s)
  phase = _cosine_phase(t, s)
  diff = t / (1.0 + s) * (math.pi / 2)
  return (jnp.log(jnp.sin(diff)) + jnp.log(jnp.sin(phase + phase_0))
          - 2 * jnp.log(jnp.cos(phase)))


def _betas_for_alphabar(num_steps, alphabar_fn, max_beta=0.999):
  betas = []
  for i in range(num_steps):
    t1, t2 = i / num_steps, (i + 1) / num_steps
    betas.append(min(1 - alphabar_fn(t2) / alphabar_fn(t1), max_beta))
  return np.array(betas, dtype=np.float64)


def named_betas(name, num_steps):
  """improved-diffusion's ``get_named_beta_schedule``: float64 betas of length T.

  'linear': Ho et al.'s linspace(1e-4, 0.02) scaled by 1000 / T; 'cosine': betas from the
  cosine alphabar, each clipped at 0.999.
  """
  if num_steps <= 0:
    raise ValueError(f"named_betas: T must be positive, got {num_steps}")
  if name == "linear":
    scale = 1000 / num_steps
    return np.linspace(scale * 0.0001, scale * 0.02, num_steps, dtype=np.float64)
  if name == "cosine":
    return _betas_for_alphabar(
        num_steps, lambda t: math.cos((t + COSINE_S) / (1 + COSINE_S) * math.pi / 2) ** 2)
  raise ValueError(f"named_betas: unknown schedule {name!r} (expected 'linear' or 'cosine')")


def betas_to_gamma(betas):
  """gamma_i = log((1 - alphabar_i) / alphabar_i), i = 1..T, float64 numpy.

  log alphabar is accumulated as a sum of log1p(-beta), so that the ratio stays accurate
  where alphabar is close to 0 or 1.
  """
  betas = np.asarray(betas, dtype=np.float64)
  log_alphabar = np.cumsum(np.log1p(-betas))
  return np.log(-np.expm1(log_alphabar)) - log_alphabar


def gamma_to_alphabar(gamma):
  """DDPM's alphabar = alpha^2 = sigmoid(-gamma)."""
  return jax.nn.sigmoid(-gamma)


def get_gamma_fn(name, **kwargs):
  """A schedule by name: 'linear' or 'cosine', with its keyword arguments bound."""
  fns = {"linear": linear_gamma, "cosine": cosine_gamma}
  if name not in fns:
    raise ValueError(f"schedule {name!r} is not one of {sorted(fns)}")
  fn = fns[name]
  return lambda t: fn(t, **kwargs)
