"""The VDM bound against the entropy of a known data distribution (VDM, Sec. 4-5)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests import truths
from vdmjax.core import schedules
from vdmjax.objectives import vdm

D = 4          # i.i.d. pixels per example
N_BATCH = 64   # batches of B examples: standard error ~0.012 nats per dimension
B = 4096


@pytest.fixture(scope="module")
def setting():
  probs = truths.discretized_mixture_probs()
  data = jax.random.choice(jax.random.PRNGKey(0), 256, (N_BATCH, B, D), p=jnp.asarray(probs))
  return probs, data.astype(jnp.uint8), truths.optimal_discrete_eps_fn(probs)


def _estimate(setting, gamma_fn, T, key=1, field="total"):
  _, data, eps_fn = setting
  f = jax.jit(lambda x, rng: vdm.vlb(x, eps_fn, gamma_fn, rng, T=T)[field])
  vals = np.concatenate([np.asarray(f(data[i], jax.random.PRNGKey(key * 1000 + i)))
                         for i in range(N_BATCH)]) / D
  return vals.mean(), vals.std() / math.sqrt(len(vals))


def test_continuous_bound_close_to_entropy(setting):
  probs = setting[0]
  entropy = truths.entropy_nats(probs)
  mean, se = _estimate(setting, schedules.linear_gamma, T=0)
  assert se < 0.02
  assert mean - entropy < 0.02, (mean, entropy, se)
  assert mean > entropy - 3 * se, (mean, entropy, se)


def test_discrete_bound_falls_with_T(setting):
  means = {T: _estimate(setting, schedules.linear_gamma, T=T) for T in [10, 100, 1000]}
  cont = _estimate(setting, schedules.linear_gamma, T=0)
  assert means[10][0] > means[100][0] > means[1000][0], means
  assert abs(means[1000][0] - cont[0]) < 3 * math.hypot(means[1000][1], cont[1]) + 0.01


def test_schedule_invariance_of_the_continuous_loss(setting):
  cosine = lambda t: schedules.cosine_gamma(t, gamma_min=-13.3, gamma_max=5.0)
  lin = _estimate(setting, schedules.linear_gamma, T=0, field="diffusion")
  cos = _estimate(setting, cosine, T=0, key=2, field="diffusion")
  assert abs(lin[0] - cos[0]) < 3 * math.hypot(lin[1], cos[1]), (lin, cos)


@pytest.mark.parametrize("batch", [1, 49, 98, 103, 128])
def test_low_discrepancy_times(batch):
  t = vdm.sample_times(jax.random.PRNGKey(3), batch)
  assert t.shape == (batch,)
  assert float(t.min()) >= 0.0 and float(t.max()) < 1.0
  gaps = np.diff(np.sort(np.asarray(t)))
  np.testing.assert_allclose(gaps, 1.0 / batch, atol=1e-5)


def test_vlb_parts_and_bpd():
  x = jnp.full((3, 2, 2, 1), 128, jnp.uint8)
  out = vdm.vlb(x, lambda z, g: jnp.zeros_like(z), schedules.linear_gamma, jax.random.PRNGKey(0))
  for k in ["prior", "recon", "diffusion", "total", "bpd"]:
    assert out[k].shape == (3,)
  np.testing.assert_allclose(out["total"], out["prior"] + out["recon"] + out["diffusion"], rtol=1e-6)
  np.testing.assert_allclose(out["bpd"], out["total"] / (4 * math.log(2)), rtol=1e-6)
  with pytest.raises(ValueError, match="T must be"):
    vdm.vlb(x, lambda z, g: z, schedules.linear_gamma, jax.random.PRNGKey(0), T=-1)


def test_weighted_loss_vlb_weighting_is_the_continuous_loss():
  """x-space integrand over SNR with w = 1 equals the eps-space loss gamma'/2 ||eps - eps_hat||^2."""
  rng = jax.random.PRNGKey(0)
  x = jax.random.uniform(rng, (5, 3, 3, 1), minval=-1, maxval=1)
  eps = jax.random.normal(jax.random.PRNGKey(1), x.shape)
  eps_hat = eps + 0.3 * jax.random.normal(jax.random.PRNGKey(2), x.shape)
  t = jnp.linspace(0.05, 0.95, 5)
  cosine = lambda u: schedules.cosine_gamma(u, gamma_min=-10.0, gamma_max=6.0)
  gamma, dgamma = vdm.gamma_and_derivative(cosine, t)
  a, s = (v[:, None, None, None] for v in schedules.alpha_sigma(gamma))
  z = a * x + s * eps
  x_hat = (z - s * eps_hat) / a
  eps_loss = vdm.diffusion_loss_continuous(eps, eps_hat, dgamma)
  np.testing.assert_allclose(vdm.weighted_diffusion_loss(x, x_hat, gamma, dgamma, "vlb"),
                             eps_loss, rtol=1e-4)
  simple = vdm.weighted_diffusion_loss(x, x_hat, gamma, dgamma, "simple")
  np.testing.assert_allclose(simple, 0.5 * jnp.sum((eps - eps_hat) ** 2, (1, 2, 3)), rtol=1e-4)
