"""Analytic truths shared by the tests: optimal denoisers of known data distributions."""

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from vdmjax.core.likelihood import grid_values


def discretized_mixture_probs(means=(-0.4, 0.35), stds=(0.12, 0.2), weights=(0.4, 0.6)):
  """Probabilities of the 256 8-bit values under a discretized mixture of Gaussians."""
  edges = np.concatenate([[-np.inf], (np.arange(255) + 0.5) * 2 / 255 - 1, [np.inf]])
  p = np.zeros(256)
  for m, s, w in zip(means, stds, weights):
    p += w * np.diff(stats.norm.cdf(edges, m, s))
  return p / p.sum()


def entropy_nats(p):
  p = p[p > 0]
  return float(-(p * np.log(p)).sum())


def optimal_discrete_eps_fn(probs):
  """Posterior-mean denoiser for i.i.d. pixels with the 8-bit distribution ``probs``.

  E[x | z_t] = sum_k softmax_k(log p_k - (z - alpha x_k)^2 / (2 sigma^2)) x_k.
  """
  log_p = jnp.log(jnp.asarray(probs, jnp.float32))
  values = grid_values()

  def eps_fn(z, gamma):
    g = gamma.reshape(gamma.shape + (1,) * (z.ndim - 1))
    alpha, sigma = jnp.sqrt(jax.nn.sigmoid(-g)), jnp.sqrt(jax.nn.sigmoid(g))
    logits = log_p - (z[..., None] - alpha[..., None] * values) ** 2 / (2 * sigma[..., None] ** 2)
    x_hat = jnp.sum(jax.nn.softmax(logits, axis=-1) * values, axis=-1)
    return (z - alpha * x_hat) / sigma

  return eps_fn


class GaussianMixture1D:
  """x ~ sum_k pi_k N(mu_k, s_k^2); diffused: z_t | k ~ N(alpha mu_k, alpha^2 s_k^2 + sigma^2)."""

  def __init__(self, means, stds, weights):
    self.means = jnp.asarray(means, jnp.float32)
    self.stds = jnp.asarray(stds, jnp.float32)
    self.weights = jnp.asarray(weights, jnp.float32)

  def _params(self, gamma):
    alpha2, sigma2 = jax.nn.sigmoid(-gamma), jax.nn.sigmoid(gamma)
    return jnp.sqrt(alpha2)[..., None] * self.means, alpha2[..., None] * self.stds**2 + sigma2[..., None]

  def component_logpdf(self, z, gamma):
    """log p(z_t | k), shape (B, K) for z of shape (B, 1)."""
    mean, var = self._params(gamma)
    return -0.5 * ((z - mean) ** 2 / var + jnp.log(2 * jnp.pi * var))

  def class_posterior(self, z, gamma):
    return jax.nn.softmax(jnp.log(self.weights) + self.component_logpdf(z, gamma), axis=-1)

  def eps_uncond(self, z, gamma):
    """-sigma * score of p(z_t), in closed form."""
    mean, var = self._params(gamma)
    r = self.class_posterior(z, gamma)
    score = jnp.sum(r * (-(z - mean) / var), axis=-1, keepdims=True)
    return -jnp.sqrt(jax.nn.sigmoid(gamma))[:, None] * score

  def eps_cond(self, z, gamma, labels):
    """-sigma * score of p(z_t | c), in closed form."""
    mean, var = self._params(gamma)
    idx = labels[:, None]
    m, v = jnp.take_along_axis(mean, idx, 1), jnp.take_along_axis(var, idx, 1)
    return jnp.sqrt(jax.nn.sigmoid(gamma))[:, None] * (z - m) / v

  def sample(self, rng, n):
    k_rng, n_rng = jax.random.split(rng)
    k = jax.random.choice(k_rng, len(self.weights), (n,), p=self.weights)
    return self.means[k] + self.stds[k] * jax.random.normal(n_rng, (n,)), k
