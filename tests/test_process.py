import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest

from vdmjax.core import process

mpmath.mp.dps = 50


def _mp_alpha2(g):
  return 1 / (1 + mpmath.exp(g))


def _mp_truth(gt, gs):
  """alpha_{t|s}^2, sigma^2_{t|s} and the posterior coefficients in 50-digit arithmetic."""
  gt, gs = mpmath.mpf(gt), mpmath.mpf(gs)
  a2t, a2s = _mp_alpha2(gt), _mp_alpha2(gs)
  s2t, s2s = 1 - a2t, 1 - a2s
  a2ts = a2t / a2s
  s2ts = s2t - a2ts * s2s
  coef_z = mpmath.sqrt(a2ts) * s2s / s2t
  coef_x = mpmath.sqrt(a2s) * s2ts / s2t
  var = s2ts * s2s / s2t
  return [float(v) for v in (mpmath.sqrt(a2ts), s2ts, coef_z, coef_x, var)]


PAIRS = [(-30.0, -30.5), (-13.3, -20.0), (-5.0, -5.001), (0.0, -1.0), (5.0, 4.99),
         (30.0, 29.0), (30.0, -30.0), (12.0, -13.0)]


@pytest.mark.parametrize("gt,gs", PAIRS)
def test_transition_and_posterior_accurate_in_float32(gt, gs):
  a_ts, s2_ts, cz, cx, var = _mp_truth(gt, gs)
  g_t, g_s = jnp.float32(gt), jnp.float32(gs)
  got = [jnp.exp(process.log_alpha_ts(g_t, g_s)), process.sigma2_ts(g_t, g_s),
         *process.posterior_coefs(g_t, g_s)]
  for name, value, truth in zip(["alpha_ts", "sigma2_ts", "coef_z", "coef_x", "var"], got,
                                [a_ts, s2_ts, cz, cx, var]):
    assert np.isfinite(value), name
    np.testing.assert_allclose(float(value), truth, rtol=2e-3, err_msg=name)


def test_q_zt_given_x_moments():
  x = jnp.array([[0.5, -1.0]])
  mean, var = process.q_zt_given_x(x, jnp.array([0.0]))
  np.testing.assert_allclose(mean, x * np.sqrt(0.5), rtol=1e-6)
  np.testing.assert_allclose(var, 0.5, rtol=1e-6)


def test_transition_composes_marginals():
  """q(z_t | x) = int q(z_t | z_s) q(z_s | x) dz_s: means and variances compose."""
  x = jnp.array([[0.3]])
  gs, gt = jnp.array([-2.0]), jnp.array([1.5])
  ms, vs = process.q_zt_given_x(x, gs)
  m_ts, v_ts = process.q_zt_given_zs(ms, gt, gs)
  a_ts = jnp.exp(process.log_alpha_ts(gt, gs))
  mt, vt = process.q_zt_given_x(x, gt)
  np.testing.assert_allclose(m_ts, mt, rtol=1e-5)
  np.testing.assert_allclose(a_ts**2 * vs + v_ts, vt, rtol=1e-5)


@pytest.mark.parametrize("gt,gs", [(2.0, -1.0), (-3.0, -6.0), (0.5, 0.2)])
def test_posterior_against_bayes_on_a_grid(gt, gs):
  """q(z_s | z_t, x) from Bayes' rule: q(z_s | x) q(z_t | z_s), normalised on a fine grid."""
  x, z_t = 0.4, -0.3
  a2s, a2t = 1 / (1 + np.exp(gs)), 1 / (1 + np.exp(gt))
  a_ts2 = a2t / a2s
  v_ts = (1 - a2t) - a_ts2 * (1 - a2s)
  grid = np.linspace(-6, 6, 400001)
  log_w = (-(grid - np.sqrt(a2s) * x) ** 2 / (2 * (1 - a2s))
           - (z_t - np.sqrt(a_ts2) * grid) ** 2 / (2 * v_ts))
  w = np.exp(log_w - log_w.max())
  w /= w.sum()
  mean = (w * grid).sum()
  var = (w * (grid - mean) ** 2).sum()
  m, v = process.q_zs_given_zt_x(jnp.array([[z_t]]), jnp.array([[x]]), jnp.array([gt]),
                                 jnp.array([gs]))
  np.testing.assert_allclose(float(m[0, 0]), mean, rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(float(v[0, 0]), var, rtol=1e-3)


def test_prediction_conversions_round_trip():
  rng = jax.random.PRNGKey(0)
  x, eps = jax.random.normal(rng, (2, 3, 3, 1)), jax.random.normal(jax.random.PRNGKey(1), (2, 3, 3, 1))
  g = jnp.array([-2.0, 3.0])
  z = process.diffuse(x, eps, g)
  np.testing.assert_allclose(process.x_from_eps(z, eps, g), x, atol=1e-4)
  np.testing.assert_allclose(process.eps_from_x(z, x, g), eps, atol=1e-4)
  a, s = jnp.sqrt(jax.nn.sigmoid(-g))[:, None, None, None], jnp.sqrt(jax.nn.sigmoid(g))[:, None, None, None]
  np.testing.assert_allclose(process.eps_from_v(z, a * eps - s * x, g), eps, atol=1e-5)
