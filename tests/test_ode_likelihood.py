"""The probability-flow ODE likelihood against data with known densities."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.truths import discretized_mixture_probs, entropy_nats, optimal_discrete_eps_fn
from vdmjax.core.schedules import linear_gamma
from vdmjax.eval import likelihood as ode

MU, STD, DIM = 0.3, 0.5, 3
GAMMA = lambda t: linear_gamma(t, -13.3, 20.0)   # alpha_1 ~ 5e-5: the N(0, I) prior is exact


def gaussian_eps(z, gamma):
  """Exact eps of x ~ N(MU, STD^2 I): z_t ~ N(alpha MU, alpha^2 STD^2 + sigma^2)."""
  g = gamma[:, None]
  a2, s2 = jax.nn.sigmoid(-g), jax.nn.sigmoid(g)
  return jnp.sqrt(s2) * (z - jnp.sqrt(a2) * MU) / (a2 * STD**2 + s2)


def gaussian_logpdf(x):
  # q(z_0 | x) adds sigma_0^2 / alpha_0^2 = exp(gamma_0) of variance in data units
  var = STD**2 + math.exp(-13.3)
  return np.sum(-0.5 * (x - MU) ** 2 / var - 0.5 * np.log(2 * np.pi * var), axis=1)


def test_ode_log_likelihood_of_gaussian_data_is_its_density():
  x = MU + STD * np.random.default_rng(0).standard_normal((16, DIM)).astype(np.float32)
  x[0] = MU + 3 * STD      # a tail point too
  logp, nfe = ode.ode_log_likelihood_and_nfe(jnp.asarray(x), gaussian_eps, GAMMA,
                                             jax.random.PRNGKey(0), exact_trace=True)
  np.testing.assert_allclose(logp, gaussian_logpdf(x), atol=1e-3)
  assert 10 < int(nfe) < 2000
  fixed = ode.ode_log_likelihood(jnp.asarray(x), gaussian_eps, GAMMA, jax.random.PRNGKey(0),
                                 exact_trace=True, solver="heun", num_steps=200)
  np.testing.assert_allclose(fixed, gaussian_logpdf(x), atol=2e-2 * DIM)


@pytest.mark.parametrize("probe", ["rademacher", "gaussian"])
def test_hutchinson_divergence_agrees_with_the_exact_trace(probe):
  z = jax.random.normal(jax.random.PRNGKey(1), (4, DIM))
  f = lambda y: ode.ode_drift(lambda z_, g: jnp.tanh(z_ @ jnp.array(
      [[1.0, 0.5, -0.3], [0.2, -1.0, 0.4], [0.7, 0.1, 0.9]])) * g[:, None], GAMMA)(
          jnp.float32(0.6), y)
  exact = ode.exact_divergence(f, z)
  probes = ode.draw_probes(jax.random.PRNGKey(2), z.shape, 4000, probe)
  single = jax.vmap(lambda v: ode.hutchinson_divergence(f, z, v[None]))(probes)   # (K, B)
  mean, se = single.mean(0), single.std(0) / math.sqrt(single.shape[0])
  assert np.all(np.abs(mean - exact) < 4 * se + 1e-6), (mean, exact, se)


def test_hutchinson_ode_likelihood_is_unbiased():
  x = MU + STD * jax.random.normal(jax.random.PRNGKey(3), (4, DIM))
  draws = jnp.stack([ode.ode_log_likelihood(x, gaussian_eps, GAMMA, jax.random.PRNGKey(k),
                                            num_probes=1) for k in range(24)])
  mean, se = draws.mean(0), draws.std(0) / math.sqrt(draws.shape[0])
  truth = gaussian_logpdf(np.asarray(x))
  assert np.all(np.abs(mean - truth) < 4 * se + 2e-3 * DIM), (mean, truth, se)


def test_ode_bound_with_the_optimal_denoiser_is_close_to_the_entropy():
  probs = discretized_mixture_probs()
  entropy = entropy_nats(probs)
  n = 512
  x = np.random.default_rng(0).choice(256, size=(n, 1), p=probs).astype(np.uint8)
  gamma_fn = lambda t: linear_gamma(t, -13.3, 8.0)
  bpd, _ = ode.ode_bpd(jnp.asarray(x), optimal_discrete_eps_fn(probs), gamma_fn,
                       jax.random.PRNGKey(0), dequantization="vdm", exact_trace=True,
                       rtol=1e-4, atol=1e-4)
  nats = np.asarray(bpd) * math.log(2.0)
  se = nats.std() / math.sqrt(n)
  # a bound: above the entropy up to Monte Carlo error, and close to it
  assert nats.mean() > entropy - 4 * se
  assert nats.mean() < entropy + 0.05 + 4 * se, (nats.mean(), entropy, se)


@pytest.mark.parametrize("config_name", ["tiny_vdm", "tiny_iddpm"])
def test_eval_mode_ode_for_each_method(config_name, tmp_path):
  import os

  from vdmjax.config_files import load_config_file
  from vdmjax.train.loop import Experiment
  config = load_config_file(os.path.join(os.path.dirname(__file__), "configs",
                                         f"{config_name}.py"))
  config.eval.update(method="ode", num_examples=8)
  config.eval.ode.update(solver="euler", num_steps=4)
  exp = Experiment(config, str(tmp_path))
  result = exp.evaluate()
  assert result["eval_method"] == "ode" and result["nfe"] == 5.0
  assert np.isfinite(result["bpd"]) and np.isfinite(result["bpd_se"])
  assert result["path"].endswith("step_0_ode.json")
  if config_name == "tiny_iddpm":
    # the interpolated schedule passes through the T-step table at its knots
    d = exp.objective.diffusion
    _, gamma_fn = exp.objective.ode_fns(exp.state["params"])
    knots = jnp.arange(d.num_timesteps) / (d.num_timesteps - 1)
    np.testing.assert_allclose(gamma_fn(knots), d.gamma, rtol=1e-5, atol=1e-5)
  with pytest.raises(ValueError, match="eval.ode: unknown keys"):
    config.eval.ode.tolerance = 1.0
    Experiment(config, str(tmp_path / "other")).evaluate()
