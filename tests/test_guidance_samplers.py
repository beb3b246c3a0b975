"""Guidance rules and samplers against analytic Gaussian mixtures (Ho & Salimans, Fig. 2)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from tests.truths import GaussianMixture1D
from vdmjax.core import guidance, samplers, schedules


def _mog2d():
  means = jnp.array([[-1.0, 0.0], [1.0, 0.5], [0.0, -1.2]])
  var = jnp.array([0.3, 0.2, 0.25])
  weights = jnp.array([0.5, 0.3, 0.2])
  return means, var, weights


def _logpdf_components(z, gamma, means, var):
  a2, s2 = jax.nn.sigmoid(-gamma), jax.nn.sigmoid(gamma)
  v = a2 * var + s2
  return -0.5 * jnp.sum((z - jnp.sqrt(a2) * means) ** 2, -1) / v - jnp.log(2 * jnp.pi * v)


@pytest.mark.parametrize("w", [0.0, 0.5, 3.0])
def test_cfg_is_the_guided_score_of_a_gaussian_mixture(w):
  means, var, weights = _mog2d()
  z = jnp.array([0.3, -0.4])
  gamma, c = 0.7, 1
  a2, s2 = jax.nn.sigmoid(-gamma), jax.nn.sigmoid(gamma)
  sigma = jnp.sqrt(s2)
  v = a2 * var + s2
  # closed-form scores of p(z|c) and p(z)
  comp_scores = -(z - jnp.sqrt(a2) * means) / v[:, None]
  resp = jax.nn.softmax(jnp.log(weights) + _logpdf_components(z, gamma, means, var))
  eps_cond = -sigma * comp_scores[c]
  eps_uncond = -sigma * jnp.sum(resp[:, None] * comp_scores, 0)

  def log_guided(z_):
    log_comp = _logpdf_components(z_, gamma, means, var)
    log_post = jnp.log(weights[c]) + log_comp[c] - jax.scipy.special.logsumexp(
        jnp.log(weights) + log_comp)
    return log_comp[c] + w * log_post

  truth = -sigma * jax.grad(log_guided)(z)
  np.testing.assert_allclose(guidance.cfg(eps_cond, eps_uncond, w), truth, rtol=1e-4, atol=1e-6)
  # classifier guidance: the conditional model with scale w, or the unconditional with 1 + w
  grad_log_post = jax.grad(lambda z_: jax.nn.log_softmax(
      jnp.log(weights) + _logpdf_components(z_, gamma, means, var))[c])(z)
  np.testing.assert_allclose(guidance.classifier_guidance(eps_cond, grad_log_post, sigma, w),
                             truth, rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(
      guidance.classifier_guidance(eps_uncond, grad_log_post, sigma, 1 + w), truth,
      rtol=1e-4, atol=1e-6)


MIX = GaussianMixture1D(means=[-0.5, 0.4], stds=[0.1, 0.15], weights=[0.3, 0.7])


def test_cfg_denoiser_batches_both_passes_and_w0_is_conditional():
  z = jax.random.normal(jax.random.PRNGKey(0), (6, 1))
  g = jnp.linspace(-3, 3, 6)
  labels = jnp.array([0, 1, 0, 1, 1, 0])
  calls = []

  def cond_eps(z_, g_, c_):
    calls.append(z_.shape[0])
    null = c_ == 2
    return jnp.where(null[:, None], MIX.eps_uncond(z_, g_), MIX.eps_cond(z_, g_, jnp.minimum(c_, 1)))

  got0 = guidance.cfg_denoiser(cond_eps, labels, 2, 0.0)(z, g)
  np.testing.assert_allclose(got0, MIX.eps_cond(z, g, labels), rtol=1e-5, atol=1e-6)
  assert calls == [12]
  got = guidance.cfg_denoiser(cond_eps, labels, 2, 2.0)(z, g)
  np.testing.assert_allclose(
      got, guidance.cfg(MIX.eps_cond(z, g, labels), MIX.eps_uncond(z, g), 2.0), rtol=1e-5, atol=1e-6)


def test_classifier_guided_denoiser_uses_the_classifier_gradient():
  z = jax.random.normal(jax.random.PRNGKey(0), (4, 1))
  g = jnp.array([-1.0, 0.0, 1.0, 2.0])
  labels = jnp.array([0, 1, 1, 0])
  log_prob = lambda z_, g_: jnp.log(
      jnp.take_along_axis(MIX.class_posterior(z_, g_), labels[:, None], 1)[:, 0])
  got = guidance.classifier_guided_denoiser(MIX.eps_uncond, log_prob, 1.0)(z, g)
  # with s = 1 and the exact classifier, guiding p(z) gives the score of p(z | c)
  np.testing.assert_allclose(got, MIX.eps_cond(z, g, labels), rtol=1e-4, atol=1e-5)


def _gamma(t):
  return schedules.linear_gamma(t, -10.0, 8.0)


@pytest.mark.parametrize("sampler", ["ancestral", "ddim"])
def test_samplers_reproduce_a_1d_mixture(sampler):
  n = 4000
  rng = jax.random.PRNGKey(7)
  if sampler == "ancestral":
    x = samplers.ancestral_sample(MIX.eps_uncond, _gamma, rng, (n, 1), 400)
  else:
    x = samplers.ddim_sample(MIX.eps_uncond, _gamma, rng, (n, 1), 200, eta=0.0)
  ref, _ = MIX.sample(jax.random.PRNGKey(8), n)
  result = stats.ks_2samp(np.asarray(x[:, 0]), np.asarray(ref))
  assert result.pvalue > 0.01, result


def test_ddim_with_eta_one_is_ancestral_in_distribution():
  n = 4000
  x = samplers.ddim_sample(MIX.eps_uncond, _gamma, jax.random.PRNGKey(1), (n, 1), 200, eta=1.0)
  ref, _ = MIX.sample(jax.random.PRNGKey(2), n)
  assert stats.ks_2samp(np.asarray(x[:, 0]), np.asarray(ref)).pvalue > 0.01


def test_guidance_concentrates_samples_on_the_target_class():
  n, target = 2000, 0
  labels = jnp.full((n,), target)
  cond_eps = lambda z, g, c: jnp.where((c == 2)[:, None], MIX.eps_uncond(z, g),
                                       MIX.eps_cond(z, g, jnp.minimum(c, 1)))
  shares = []
  for w in [0.0, 1.0, 4.0]:
    den = guidance.cfg_denoiser(cond_eps, labels, 2, w)
    x = samplers.ancestral_sample(den, _gamma, jax.random.PRNGKey(3), (n, 1), 200)
    post = MIX.class_posterior(x, jnp.full((n,), -30.0))[:, target]
    shares.append(float(post.mean()))
  assert shares[0] < shares[1] < shares[2], shares


def test_samplers_compile_once_per_shape():
  @jax.jit
  @chex.assert_max_traces(n=1)
  def run(rng):
    return samplers.ancestral_sample(MIX.eps_uncond, _gamma, rng, (8, 1), 50)

  for seed in range(3):
    run(jax.random.PRNGKey(seed))
