import jax
import mpmath
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from vdmjax.core import likelihood


def test_normal_kl_against_monte_carlo():
  m1, lv1, m2, lv2 = 0.3, np.log(0.5), -0.2, np.log(1.7)
  x = np.random.default_rng(0).normal(m1, np.exp(lv1 / 2), 2_000_000)
  ratio = stats.norm.logpdf(x, m1, np.exp(lv1 / 2)) - stats.norm.logpdf(x, m2, np.exp(lv2 / 2))
  kl = float(likelihood.normal_kl(m1, lv1, m2, lv2))
  se = ratio.std() / np.sqrt(len(x))
  assert abs(kl - ratio.mean()) < 4 * se
  assert float(likelihood.normal_kl(0.1, -1.0, 0.1, -1.0)) == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("mean,log_scale", [(0.0, np.log(0.1)), (0.9, np.log(0.02)),
                                            (-1.2, np.log(0.3)), (0.3, np.log(1e-3))])
def test_discretized_gaussian_sums_to_one(exact, mean, log_scale):
  x = likelihood.grid_values()
  ll = likelihood.discretized_gaussian_log_likelihood(
      x, jnp.full_like(x, mean), jnp.full_like(x, log_scale), exact=exact)
  assert abs(float(jnp.exp(ll).sum()) - 1.0) < 2e-5


def test_discretized_gaussian_bins_and_edges():
  """Bin probabilities against scipy's CDF: interior bins of width 2/255, open edge bins."""
  mean, scale = 0.2, 0.3
  x = likelihood.grid_values()
  edges = np.concatenate([[-np.inf], np.asarray(x[:-1]) + 1 / 255, [np.inf]])
  truth = np.diff(stats.norm.cdf(edges, mean, scale))
  exact = jnp.exp(likelihood.discretized_gaussian_log_likelihood(
      x, jnp.full_like(x, mean), jnp.full_like(x, np.log(scale)), exact=True))
  approx = jnp.exp(likelihood.discretized_gaussian_log_likelihood(
      x, jnp.full_like(x, mean), jnp.full_like(x, np.log(scale))))
  np.testing.assert_allclose(exact, truth, rtol=1e-3, atol=1e-9)
  # The tanh CDF of improved-diffusion is off by up to ~2e-4 in the far tails.
  np.testing.assert_allclose(approx, truth, rtol=0, atol=2.5e-4)


def test_vdm_decoder_is_a_distribution_that_concentrates():
  z = jnp.array([[0.3, -0.7]])
  for gamma_0 in [-13.3, -5.0, 0.0]:
    lp = likelihood.vdm_decoder_logprobs(z, jnp.array([gamma_0]))
    np.testing.assert_allclose(jnp.exp(lp).sum(-1), 1.0, rtol=1e-5)
  # Small noise: z_0 / alpha_0 on a grid value puts almost all mass on that value.
  k = jnp.array([[200, 17]])
  g0 = jnp.array([-13.3])
  z0 = likelihood.uint8_to_unit(k) * jnp.sqrt(jax.nn.sigmoid(-g0))
  assert float(likelihood.vdm_decoder_nll(k, z0, g0).max()) < 1e-3


def test_vdm_decoder_nll_is_the_normalised_table_at_x():
  # the direct log-sum-exp form against gathering from log_softmax over the whole grid
  k = jax.random.randint(jax.random.PRNGKey(0), (4, 5, 3), 0, 256)
  z = 0.9 * jax.random.normal(jax.random.PRNGKey(1), (4, 5, 3))
  g = jnp.array([-13.3, -6.0, -1.0, 2.0])
  table = lambda z: -jnp.take_along_axis(likelihood.vdm_decoder_logprobs(z, g), k[..., None],
                                         axis=-1)[..., 0]
  np.testing.assert_allclose(likelihood.vdm_decoder_nll(k, z, g), table(z), rtol=1e-5,
                             atol=1e-3)
  np.testing.assert_allclose(jax.grad(lambda z: likelihood.vdm_decoder_nll(k, z, g).sum())(z),
                             jax.grad(lambda z: table(z).sum())(z), rtol=1e-5, atol=1e-1)


def test_prior_kl_against_high_precision():
  mpmath.mp.dps = 40
  xs = np.linspace(-1, 1, 9)
  for g1 in [-2.0, 5.0, 12.0]:
    got = likelihood.prior_kl(jnp.asarray(xs, jnp.float32)[None], jnp.array([g1]))[0]
    s2 = 1 / (1 + mpmath.exp(-g1))
    truth = [float((s2 + (1 - s2) * mpmath.mpf(x) ** 2 - 1 - mpmath.log(s2)) / 2) for x in xs]
    np.testing.assert_allclose(got, truth, rtol=1e-4, atol=1e-10)
    # the naive Gaussian KL agrees where float32 cancellation allows
    a2 = jax.nn.sigmoid(-g1)
    ref = likelihood.normal_kl(jnp.sqrt(a2) * xs, jnp.log(1 - a2), 0.0, 0.0)
    np.testing.assert_allclose(got, ref, rtol=5e-3, atol=1e-7)
