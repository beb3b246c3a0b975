"""DD-GAN's chain and losses against the paper code's formulas (re-derived here in float64
numpy) and Monte Carlo."""

import json
import math
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.resume import full_and_resumed
from vdmjax.objectives import ddgan
from vdmjax.train.loop import Experiment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

T = 4


def paper_chain(T, beta_min=0.1, beta_max=20.0, eps_small=1e-3):
  """NVlabs' get_sigma_schedule and posterior coefficients, in numpy float64."""
  t = np.arange(0, T + 1, dtype=np.float64) / T * (1 - eps_small) + eps_small
  log_mean_coeff = -0.25 * t**2 * (beta_max - beta_min) - 0.5 * t * beta_min
  var = 1.0 - np.exp(2.0 * log_mean_coeff)
  alpha_bars = 1.0 - var
  betas = np.concatenate([[1e-8], 1 - alpha_bars[1:] / alpha_bars[:-1]])
  a_s_cum = np.cumprod(np.sqrt(1 - betas))
  post_betas = betas[1:]
  ac = np.cumprod(1 - post_betas)
  ac_prev = np.concatenate([[1.0], ac[:-1]])
  coef1 = post_betas * np.sqrt(ac_prev) / (1 - ac)
  coef2 = (1 - ac_prev) * np.sqrt(1 - post_betas) / (1 - ac)
  post_var = post_betas * (1 - ac_prev) / (1 - ac)
  return a_s_cum**2, coef1, coef2, post_var


def test_chain_matches_the_paper_code():
  alphabar, *_ = paper_chain(T)
  gammas = np.asarray(ddgan.chain_gammas(T), np.float64)
  np.testing.assert_allclose(1.0 / (1.0 + np.exp(gammas)), alphabar, rtol=2e-6)


def test_posterior_sample_moments_match_the_paper_posterior():
  _, coef1, coef2, post_var = paper_chain(T)
  gammas = ddgan.chain_gammas(T)
  n, k = 200_000, 2
  x0, x_kp1 = jnp.full((n, 1), 0.4), jnp.full((n, 1), -0.3)
  ks = jnp.full((n,), k)
  draws = np.asarray(ddgan.posterior_sample(jax.random.PRNGKey(0), x0, x_kp1, ks, gammas))
  mean, var = coef1[k] * 0.4 + coef2[k] * -0.3, post_var[k]
  assert abs(draws.mean() - mean) < 4 * math.sqrt(var / n) + 1e-6
  assert abs(draws.var() - var) < 4 * var * math.sqrt(2.0 / n) + 1e-6
  # at k = 0 the paper's sampler returns the posterior mean
  last = ddgan.posterior_sample(jax.random.PRNGKey(1), x0[:4], x_kp1[:4], jnp.zeros(4, int),
                                gammas)
  np.testing.assert_allclose(last, coef1[0] * 0.4 + coef2[0] * -0.3, rtol=1e-4, atol=1e-6)


def test_true_x0_makes_fake_pairs_distributed_as_real_pairs():
  """With G(x_{k+1}) = x_0, (posterior sample, x_{k+1}) ~ q(x_k, x_{k+1} | x_0): D's real and
  fake inputs have one distribution (first and second moments, by Monte Carlo)."""
  gammas = ddgan.chain_gammas(T)
  n = 200_000
  x0 = jnp.where(jnp.arange(n)[:, None] % 2 == 0, -0.6, 0.5)
  k = jnp.arange(n) % T
  r1, r2, r3 = jax.random.split(jax.random.PRNGKey(0), 3)
  real_k, real_kp1 = ddgan.training_pair(r1, x0, k, gammas)
  _, fake_kp1 = ddgan.training_pair(r2, x0, k, gammas)
  fake_k = ddgan.posterior_sample(r3, x0, fake_kp1, k, gammas)
  for step in range(T):
    sel = np.asarray(k == step)
    a = np.stack([np.asarray(real_k)[sel, 0], np.asarray(real_kp1)[sel, 0]])
    b = np.stack([np.asarray(fake_k)[sel, 0], np.asarray(fake_kp1)[sel, 0]])
    se = np.sqrt(np.var(a, axis=1) / sel.sum())
    assert np.all(np.abs(a.mean(1) - b.mean(1)) < 5 * np.sqrt(2) * se + 1e-6)
    ca, cb = np.cov(a), np.cov(b)
    # standard error of a sample (co)variance: sqrt((v_i v_j + c_ij^2) / n)
    se_cov = np.sqrt((np.outer(np.diag(ca), np.diag(ca)) + ca**2) / sel.sum())
    assert np.all(np.abs(ca - cb) < 5 * np.sqrt(2) * se_cov + 1e-6), (step, ca, cb)


def test_r1_penalty_equals_a_finite_difference_estimate():
  w = jax.random.normal(jax.random.PRNGKey(0), (6, 3))
  d_fn = lambda x: jnp.sum(jnp.tanh(x.reshape(x.shape[0], -1) @ w), axis=1)
  x = jax.random.normal(jax.random.PRNGKey(1), (5, 2, 3))
  got = float(ddgan.r1_penalty(d_fn, x, r1_gamma=0.02))
  xs = np.asarray(x, np.float64)
  wd = np.asarray(w, np.float64)
  f = lambda v: np.sum(np.tanh(v.reshape(-1) @ wd))
  h, sq = 1e-5, []
  for i in range(xs.shape[0]):
    g = np.zeros(xs[i].size)
    for j in range(xs[i].size):
      e = np.zeros(xs[i].size)
      e[j] = h
      g[j] = (f(xs[i].reshape(-1) + e) - f(xs[i].reshape(-1) - e)) / (2 * h)
    sq.append(np.sum(g**2))
  np.testing.assert_allclose(got, 0.5 * 0.02 * np.mean(sq), rtol=1e-4)


def test_lazy_regularisation_every_n_steps():
  assert [s for s in range(46) if ddgan.lazy_r1_due(s, 15)] == [0, 15, 30, 45]


def test_sampling_is_one_compiled_loop_ending_at_the_generators_x0():
  gammas = ddgan.chain_gammas(T)
  target = 0.37

  @jax.jit
  @chex.assert_max_traces(n=1)
  def run(rng):
    return ddgan.sample(lambda x, k, z: jnp.full_like(x, target) + 0 * z.sum(), rng,
                        (16, 4, 4, 1), gammas, nz=8)

  for seed in range(2):
    np.testing.assert_allclose(run(jax.random.PRNGKey(seed)), target, atol=1e-3)


# --- two-player training in the shared loop --------------------------------------------------

def tiny_toy_config():
  from vdmjax.config_files import load_config_file
  c = load_config_file(os.path.join(ROOT, "configs", "toy_ddgan.py"))
  c.model.generator.update(hidden=16, depth=2, t_emb_dim=8)
  c.model.discriminator.update(hidden=16, depth=2, t_emb_dim=8)
  c.objective.lazy_reg = 2
  c.train.update(num_steps=6, batch_size=64, checkpoint_every=3, log_every=1)
  c.eval.update(batch_size=200, num_examples=200)
  c.sample.num = 64
  return c


def _constant_lr_config():
  # the cosine decay spans train.num_steps, which full_and_resumed shortens for its cut run
  c = tiny_toy_config()
  c.optim.decay = "constant"
  return c


def test_a_resumed_two_player_run_continues_the_uninterrupted_trajectory(tmp_path):
  full, _ = full_and_resumed(_constant_lr_config, tmp_path)
  assert set(full.state["opt_state"]) == {"generator", "discriminator"}
  lines = [json.loads(l) for l in open(tmp_path / "full" / "metrics.jsonl")]
  # the line of step s reports the update made at step s - 1: R1 at 0, 2, 4 (lazy_reg 2)
  assert [l["step"] for l in lines if l["r1"] > 0] == [1, 3, 5]
  assert {"d_loss", "g_loss", "d_real", "d_fake", "r1", "lr"} <= set(lines[-1])


@pytest.mark.parametrize("frozen", ["generator", "discriminator"])
def test_each_player_has_its_own_optimizer(tmp_path, frozen):
  c = tiny_toy_config()
  c.train.num_steps = 3
  setattr(c.optim, "lr_g" if frozen == "generator" else "lr_d", 0.0)
  c.optim.lr_min = 0.0
  exp = Experiment(c, str(tmp_path))
  before = jax.device_get(exp.state["params"])
  exp.train()
  after = jax.device_get(exp.state["params"])
  moved = lambda name: any(np.any(a != b) for a, b in zip(jax.tree.leaves(before[name]),
                                                          jax.tree.leaves(after[name])))
  assert not moved(frozen)
  assert moved({"generator": "discriminator", "discriminator": "generator"}[frozen])


def test_sample_mode_writes_the_points_and_the_eval_reports_both_players(tmp_path):
  exp = Experiment(tiny_toy_config(), str(tmp_path))
  exp.train()
  path = exp.sample()
  points = np.load(os.path.splitext(path)[0] + ".npz")["images"]
  assert points.shape == (64, 2) and points.dtype == np.float32 and os.path.exists(path)
  result = exp.evaluate()
  assert {"d_loss", "g_loss", "d_accuracy_real", "d_accuracy_fake", "x0_mse"} <= set(result)
  exp.config.sample.batch_size = 16   # four compiled calls of 16
  chunked = np.load(os.path.splitext(exp.sample())[0] + ".npz")["images"]
  assert chunked.shape == (64, 2) and len(np.unique(chunked[:, 0])) == 64
  exp.config.sample.batch_size = 24
  with pytest.raises(ValueError, match="sample.batch_size"):
    exp.sample()
  with pytest.raises(ValueError, match="sample.steps"):
    exp.objective.sample(exp.state["params"], jax.random.PRNGKey(0), (4, 2), num_steps=1000)


@pytest.mark.slow
def test_image_two_player_run_trains_evaluates_and_samples(tmp_path):
  from tests.configs.tiny_ddgan import get_config
  exp = Experiment(get_config(), str(tmp_path))
  exp.train()
  assert np.isfinite(exp.evaluate()["d_loss"])
  assert np.load(os.path.splitext(exp.sample())[0] + ".npz")["images"].shape == (4, 28, 28, 1)


def test_host_chosen_r1_variant_equals_the_in_graph_branch():
  from vdmjax.train.factory import make_objective
  c = tiny_toy_config()
  obj = make_objective(c)
  x = jax.random.normal(jax.random.PRNGKey(0), (64, 2))
  batch = {"image": x, "label": jnp.zeros(64, jnp.int32)}
  params = obj.init(jax.random.PRNGKey(1), batch)
  opt_state = obj.optimizer().init(params)
  for step in (0, 1, 2):
    variant = obj.update_variant(step)
    assert variant == (step % c.objective.lazy_reg == 0)
    a = obj.update(params, opt_state, {}, batch, jax.random.PRNGKey(2), jnp.int32(step), variant)
    b = jax.jit(obj.update)(params, opt_state, {}, batch, jax.random.PRNGKey(2),
                            jnp.int32(step))
    assert (float(a[3]["r1"]) > 0) == variant
    for u, v in zip(jax.tree.leaves(a[:4]), jax.tree.leaves(b[:4])):
      np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)
