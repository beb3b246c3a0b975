import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vdmjax.core import schedules


def test_linear_gamma_end_points_and_derivative():
  t = jnp.linspace(0, 1, 11)
  g = schedules.linear_gamma(t)
  assert np.isclose(g[0], -13.3) and np.isclose(g[-1], 5.0)
  d = jax.vmap(jax.grad(schedules.linear_gamma))(t)
  np.testing.assert_allclose(d, 18.3, rtol=1e-6)


def test_cosine_gamma_matches_alphabar_and_its_derivative():
  s = 0.008
  t = np.linspace(0.0, 0.95, 20)
  f = lambda u: np.cos((u + s) / (1 + s) * np.pi / 2) ** 2
  alphabar = f(t) / f(0.0)
  expected = np.log((1 - alphabar[1:]) / alphabar[1:])
  np.testing.assert_allclose(schedules.cosine_gamma(jnp.asarray(t[1:])), expected, rtol=2e-4)
  # d gamma/dt = -alphabar' / (alphabar (1 - alphabar)), alphabar' by central differences.
  h = 1e-5
  dab = (f(t[1:] + h) - f(t[1:] - h)) / (2 * h) / f(0.0)
  dg = -dab / (alphabar[1:] * (1 - alphabar[1:]))
  got = jax.vmap(jax.grad(schedules.cosine_gamma))(jnp.asarray(t[1:], jnp.float32))
  np.testing.assert_allclose(got, dg, rtol=1e-3)


def test_cosine_gamma_with_end_points():
  g = schedules.cosine_gamma(jnp.array([0.0, 0.5, 1.0]), gamma_min=-13.3, gamma_max=5.0)
  np.testing.assert_allclose([g[0], g[2]], [-13.3, 5.0], atol=2e-3)
  assert g[0] < g[1] < g[2]


def _reference_cosine_betas(T, s=0.008):
  """Independent vectorised form: alphabar on the grid, ratios, clip at 0.999."""
  i = np.arange(T + 1, dtype=np.float64)
  ab = np.cos((i / T + s) / (1 + s) * np.pi / 2) ** 2
  return np.minimum(1 - ab[1:] / ab[:-1], 0.999)


@pytest.mark.parametrize("T", [10, 1000, 4000])
def test_named_betas(T):
  lin = schedules.named_betas("linear", T)
  assert lin.dtype == np.float64 and lin.shape == (T,)
  assert math.isclose(lin[0], 1e-4 * 1000 / T) and math.isclose(lin[-1], 0.02 * 1000 / T)
  if T > 1:
    np.testing.assert_allclose(np.diff(lin), (0.02 - 1e-4) * 1000 / T / (T - 1), rtol=1e-9)
  cos = schedules.named_betas("cosine", T)
  np.testing.assert_allclose(cos, _reference_cosine_betas(T), rtol=1e-12, atol=0)
  assert cos.max() <= 0.999


def test_cosine_betas_follow_alphabar_until_the_clip():
  T, s = 4000, 0.008
  betas = schedules.named_betas("cosine", T)
  assert betas[-1] == 0.999 and np.sum(betas == 0.999) == 1
  t = np.arange(1, T) / T
  alphabar = np.cos((t + s) / (1 + s) * np.pi / 2) ** 2 / np.cos(s / (1 + s) * np.pi / 2) ** 2
  np.testing.assert_allclose(np.cumprod(1 - betas)[:-1], alphabar, rtol=1e-9)


def test_named_betas_rejects_unknown():
  with pytest.raises(ValueError, match="unknown schedule 'quadratic'"):
    schedules.named_betas("quadratic", 10)


def test_betas_to_gamma_inverts_alphabar():
  betas = schedules.named_betas("cosine", 1000)
  gamma = schedules.betas_to_gamma(betas)
  alphabar = np.cumprod(1 - betas)
  np.testing.assert_allclose(1 / (1 + np.exp(gamma)), alphabar, rtol=1e-10, atol=1e-300)
  assert np.all(np.diff(gamma) > 0)


def test_alpha_sigma_variance_preserving():
  g = jnp.linspace(-30, 30, 61)
  a, s = schedules.alpha_sigma(g)
  np.testing.assert_allclose(a**2 + s**2, 1.0, rtol=1e-6)
  np.testing.assert_allclose(jnp.log(a**2 / s**2), -g, rtol=1e-4, atol=1e-4)
