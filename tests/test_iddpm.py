"""Improved DDPM functions against a from-scratch float64 re-derivation of the paper's formulas."""

import math
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vdmjax.core import schedules
from vdmjax.objectives import iddpm

T = 50
SHAPE = (3, 4, 4, 2)


def _model_np(x_t, t, channels_out):
  """A fixed nonlinear 'network' (numpy float64), eps then v."""
  base = np.tanh(0.7 * x_t + 0.01 * t.reshape(-1, 1, 1, 1))
  if channels_out == x_t.shape[-1]:
    return base
  return np.concatenate([base, np.tanh(1.3 * x_t - 0.2)], axis=-1)


def _model_jnp(channels_out):
  def fn(x_t, t):
    base = jnp.tanh(0.7 * x_t + 0.01 * t.reshape(-1, 1, 1, 1))
    if channels_out == x_t.shape[-1]:
      return base
    return jnp.concatenate([base, jnp.tanh(1.3 * x_t - 0.2)], axis=-1)
  return fn


def _cdf(x):
  return 0.5 * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


def _reference(betas, var_type, x0, x_t, t, clip):
  """Nichol & Dhariwal's p(x_{t-1}|x_t) and L_t in float64, derived from the betas alone."""
  b = betas[t].reshape(-1, 1, 1, 1)
  ab = np.cumprod(1 - betas)
  a_t = ab[t].reshape(-1, 1, 1, 1)
  a_prev = np.where(t > 0, ab[np.maximum(t - 1, 0)], 1.0).reshape(-1, 1, 1, 1)
  beta_tilde = (1 - a_prev) / (1 - a_t) * b                       # eq. 7
  beta_tilde_1 = (1 - ab[0]) / (1 - ab[1]) * betas[1]
  log_bt_clipped = np.log(np.where(t.reshape(-1, 1, 1, 1) == 0, beta_tilde_1, beta_tilde))
  out = _model_np(x_t, t, 2 * x_t.shape[-1] if var_type == "learned_range" else x_t.shape[-1])
  eps = out[..., :x_t.shape[-1]]
  if var_type == "learned_range":
    frac = (out[..., x_t.shape[-1]:] + 1) / 2                     # eq. 15
    log_var = frac * np.log(b) + (1 - frac) * log_bt_clipped
  elif var_type == "fixed_large":
    log_var = np.log(np.where(t.reshape(-1, 1, 1, 1) == 0, beta_tilde_1, b)) * np.ones_like(x_t)
  else:
    log_var = log_bt_clipped * np.ones_like(x_t)
  x0_hat = (x_t - np.sqrt(1 - a_t) * eps) / np.sqrt(a_t)          # eq. 9 / DDPM eq. 15
  if clip:
    x0_hat = np.clip(x0_hat, -1, 1)
  coef0 = np.sqrt(a_prev) * b / (1 - a_t)
  coeft = np.sqrt(1 - b) * (1 - a_prev) / (1 - a_t)
  mean = coef0 * x0_hat + coeft * x_t
  true_mean = coef0 * x0 + coeft * x_t
  kl = 0.5 * (-1 + log_var - log_bt_clipped + np.exp(log_bt_clipped - log_var)
              + (true_mean - mean) ** 2 * np.exp(-log_var))
  inv = np.exp(-0.5 * log_var)
  upper, lower = _cdf(inv * (x0 - mean + 1 / 255)), _cdf(inv * (x0 - mean - 1 / 255))
  p = np.where(x0 < -0.999, upper, np.where(x0 > 0.999, 1 - lower, upper - lower))
  nll = -np.log(np.maximum(p, 1e-12))
  kl_bpd = kl.mean(axis=(1, 2, 3)) / math.log(2)
  nll_bpd = nll.mean(axis=(1, 2, 3)) / math.log(2)
  return {"mean": mean, "log_variance": log_var, "pred_xstart": x0_hat,
          "vb": np.where(t == 0, nll_bpd, kl_bpd)}


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("var_type", ["learned_range", "fixed_small", "fixed_large"])
@pytest.mark.parametrize("clip", [True, False])
def test_functions_match_float64_rederivation(schedule, var_type, clip):
  betas = schedules.named_betas(schedule, T)
  d = iddpm.make_diffusion(betas, var_type)
  rng = np.random.default_rng(0)
  x0 = np.round((rng.uniform(-1, 1, SHAPE) + 1) * 127.5) / 127.5 - 1
  x0[0, 0, 0, 0], x0[0, 0, 1, 0] = -1.0, 1.0          # the open edge bins
  t = np.array([0, T // 2, T - 1])
  # x_t drawn from q(x_t | x_0): the decoder's probabilities stay above float32's 1e-12 floor
  ab = np.cumprod(1 - betas)[t].reshape(-1, 1, 1, 1)
  x_t = np.sqrt(ab) * x0 + np.sqrt(1 - ab) * rng.standard_normal(SHAPE)
  ref = _reference(betas, var_type, x0, x_t, t, clip)
  c_out = 2 * SHAPE[-1] if var_type == "learned_range" else SHAPE[-1]
  got = iddpm.p_mean_variance(d, _model_jnp(c_out), jnp.asarray(x_t, jnp.float32),
                              jnp.asarray(t), clip)
  for k in ("mean", "log_variance", "pred_xstart"):
    np.testing.assert_allclose(got[k], ref[k], rtol=2e-4, atol=2e-5, err_msg=k)
  vb = iddpm.vb_terms_bpd(d, _model_jnp(c_out), jnp.asarray(x0, jnp.float32),
                          jnp.asarray(x_t, jnp.float32), jnp.asarray(t), clip)
  np.testing.assert_allclose(vb, ref["vb"], rtol=2e-3, atol=2e-5)


def test_respaced_betas_keep_alphabar_at_the_kept_steps():
  betas = schedules.named_betas("cosine", 4000)
  for spec in ["50", "10,15,20", "ddim50", "4000"]:
    keep = iddpm.space_timesteps(4000, spec)
    d = iddpm.respace(betas, keep)
    kept = sorted(keep)
    np.testing.assert_allclose(d.alphas_cumprod, np.cumprod(1 - betas)[kept], rtol=1e-5)
    np.testing.assert_array_equal(d.timestep_map, kept)
  assert len(iddpm.space_timesteps(4000, "10,15,20")) == 45
  assert iddpm.space_timesteps(100, "ddim10") == set(range(0, 100, 10))
  with pytest.raises(ValueError, match="cannot divide"):
    iddpm.space_timesteps(10, "20")


def test_bpd_loop_sums_the_terms_of_one_compiled_loop():
  d = iddpm.make_diffusion(schedules.named_betas("cosine", 20), "learned_range")
  x0 = jnp.asarray(np.random.default_rng(1).integers(0, 256, SHAPE) / 127.5 - 1, jnp.float32)
  model = _model_jnp(2 * SHAPE[-1])
  rng = jax.random.PRNGKey(3)
  out = jax.jit(lambda x, r: iddpm.bpd_loop(d, model, x, r))(x0, rng)
  assert out["vb"].shape == (3, 20) and out["mse"].shape == (3, 20)
  np.testing.assert_allclose(out["total_bpd"], out["vb"].sum(1) + out["prior_bpd"], rtol=1e-5)
  # column j is t = T-1-j, with the noise the loop drew for that t
  for t in (0, 7, 19):
    noise = jax.random.normal(jax.random.fold_in(rng, t), SHAPE)
    tt = jnp.full((3,), t)
    x_t = iddpm.q_sample(d, x0, tt, noise)
    np.testing.assert_allclose(out["vb"][:, 19 - t], iddpm.vb_terms_bpd(d, model, x0, x_t, tt),
                               rtol=1e-4, atol=1e-6)


def test_samplers_compile_once_and_return_images():
  d = iddpm.respace(schedules.named_betas("cosine", 100), iddpm.space_timesteps(100, "10"))
  model = _model_jnp(2 * SHAPE[-1])

  @jax.jit
  @chex.assert_max_traces(n=1)
  def sample(rng):
    return iddpm.p_sample_loop(d, model, rng, SHAPE), iddpm.ddim_sample_loop(d, model, rng, SHAPE)

  for seed in range(2):
    a, b = sample(jax.random.PRNGKey(seed))
    assert a.shape == SHAPE and bool(jnp.all(jnp.isfinite(a))) and bool(jnp.all(jnp.isfinite(b)))


def test_importance_sampling_is_unbiased_for_the_full_sum():
  T = 30
  rng = np.random.default_rng(0)
  losses = rng.gamma(2.0, 1.0, T) * np.linspace(5, 0.1, T)        # per-step L_t
  history = jnp.asarray(losses[:, None] * rng.uniform(0.8, 1.2, (T, iddpm.HISTORY)), jnp.float32)
  counts = jnp.full((T,), iddpm.HISTORY)
  p = iddpm.importance_probs(history, counts)
  assert abs(float(p.sum()) - 1) < 1e-5 and float(p.max() / p.min()) > 5
  t = jax.random.choice(jax.random.PRNGKey(0), T, (400_000,), p=p)
  est = np.asarray(jnp.asarray(losses, jnp.float32)[t] / (T * p[t]))
  assert abs(est.mean() - losses.mean()) < 4 * est.std() / np.sqrt(len(est))
  # uniform until every step has its full history
  np.testing.assert_allclose(iddpm.importance_probs(history, counts.at[3].set(9)), 1.0 / T)


def test_history_update_appends_and_drops_the_oldest():
  h = jnp.zeros((3, iddpm.HISTORY))
  c = jnp.zeros((3,), jnp.int32)
  for k in range(12):
    h, c = iddpm.update_history(h, c, jnp.array([1]), jnp.array([float(k)]))
  assert int(c[1]) == iddpm.HISTORY and int(c[0]) == 0
  np.testing.assert_array_equal(h[1], np.arange(2, 12))


def test_hybrid_gradient_reaches_the_variance_only_through_l_vlb():
  d = iddpm.make_diffusion(schedules.named_betas("cosine", 50), "learned_range")
  rng = np.random.default_rng(0)
  x0 = jnp.asarray(np.round(rng.uniform(0, 255, SHAPE)) / 127.5 - 1, jnp.float32)
  noise = jnp.asarray(rng.standard_normal(SHAPE), jnp.float32)
  t = jnp.array([0, 10, 49])
  x_t = iddpm.q_sample(d, x0, t, noise)
  out = jnp.asarray(rng.standard_normal(SHAPE[:-1] + (4,)) * 0.3, jnp.float32)
  total = lambda o, kind: jnp.sum(iddpm.training_terms(d, o, x0, x_t, t, noise, kind)["loss"])
  g_h = jax.grad(total)(out, "hybrid")
  g_s = jax.grad(total)(out, "simple")
  g_v = jax.grad(lambda o: jnp.sum(iddpm.training_terms(d, o, x0, x_t, t, noise, "vlb")["vb"]))(out)
  c = SHAPE[-1]
  np.testing.assert_allclose(g_h[..., :c], g_s[..., :c], rtol=1e-5, atol=1e-7)   # eps: L_simple only
  np.testing.assert_allclose(g_h[..., c:], 0.001 * 50 * g_v[..., c:], rtol=1e-4, atol=1e-9)
  assert float(jnp.abs(g_s[..., c:]).max()) == 0.0


def test_iddpm_trains_resumes_evaluates_and_samples_in_the_shared_loop(tmp_path):
  from tests.configs.tiny_iddpm import get_config
  from tests.resume import full_and_resumed
  _, resumed = full_and_resumed(get_config, tmp_path)   # the loss history included
  assert int(resumed.state["aux"]["counts"].sum()) == 6 * 8
  result = resumed.evaluate()
  assert result["num_examples"] == 8 and np.isfinite(result["bpd"])
  np.testing.assert_allclose(result["bpd"], result["prior"] + result["recon"] + result["diffusion"],
                             rtol=1e-4)
  path = resumed.sample()
  assert os.path.exists(path)
