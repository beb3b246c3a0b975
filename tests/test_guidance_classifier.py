"""Classifier guidance in every sampler, label dropout, guidance options, and the classifier
mode of the shared loop. Truths: with the exact classifier p(c | z_t) at scale 1, guiding the
exact unconditional model samples p(x | c) (Dhariwal & Nichol 2021, Sec. 4.1); in the score
form (DDIM), classifier guidance of scale s on p(z) is CFG with w = s - 1 exactly."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from tests.truths import GaussianMixture1D
from vdmjax.config_files import load_config_file
from vdmjax.core import guidance, samplers, schedules
from vdmjax.objectives import iddpm

MIX = GaussianMixture1D(means=[-0.5, 0.4], stds=[0.1, 0.15], weights=[0.3, 0.7])
TARGET = 0
CONFIGS = os.path.join(os.path.dirname(__file__), "configs")


def _log_post(z, gamma):
  """log p(TARGET | z_t) of the exact mixture, per example; z of shape (B, 1)."""
  return jnp.log(MIX.class_posterior(z, gamma)[:, TARGET])


def _target_samples(n):
  rng = np.random.default_rng(0)
  return MIX.means[TARGET] + MIX.stds[TARGET] * rng.standard_normal(n)


def _gamma(t):
  return schedules.linear_gamma(t, -10.0, 8.0)


@pytest.mark.parametrize("sampler", ["ancestral", "ddim"])
def test_vdm_samplers_with_the_exact_classifier_sample_the_class_conditional(sampler):
  n = 4000
  cond_fn = lambda z, g: guidance.classifier_log_prob_grad(_log_post, z, g)
  rng = jax.random.PRNGKey(3)
  if sampler == "ancestral":
    x = samplers.ancestral_sample(MIX.eps_uncond, _gamma, rng, (n, 1), 400,
                                  mean_shift_fn=cond_fn)
  else:
    x = samplers.ddim_sample(guidance.shifted_denoiser(MIX.eps_uncond, cond_fn), _gamma, rng,
                             (n, 1), 200)
  result = stats.ks_2samp(np.asarray(x[:, 0]), _target_samples(n))
  assert result.pvalue > 0.01, result


def _iddpm_fns(d):
  """Exact eps of the mixture for a (respaced) iDDPM diffusion, NHWC (B, 1, 1, 1)."""
  gamma_of = dict(zip(np.asarray(d.timestep_map).tolist(), np.asarray(d.gamma).tolist()))
  table = jnp.zeros(max(gamma_of) + 1).at[jnp.array(list(gamma_of))].set(
      jnp.array(list(gamma_of.values())))
  flat = lambda x: x.reshape(x.shape[0], 1)

  def eps_u(x, t):
    return MIX.eps_uncond(flat(x), table[t]).reshape(x.shape)

  def eps_c(x, t):
    return MIX.eps_cond(flat(x), table[t], jnp.full((x.shape[0],), TARGET)).reshape(x.shape)

  def cond_fn(x, t, s=1.0):
    return s * jax.grad(lambda x_: jnp.sum(_log_post(flat(x_), table[t])))(x)

  return eps_u, eps_c, cond_fn


def test_iddpm_ancestral_with_the_exact_classifier_samples_the_class_conditional():
  # the mean shift is first order in the step size: at 250 respaced steps the KS test sees the
  # discretisation (p ~ 0.002), at the full 1000 it does not
  d = iddpm.make_diffusion(schedules.named_betas("linear", 1000), "fixed_small")
  eps_u, _, cond_fn = _iddpm_fns(d)
  n = 4000
  x = iddpm.p_sample_loop(d, eps_u, jax.random.PRNGKey(5), (n, 1, 1, 1), clip_denoised=False,
                          cond_fn=cond_fn)
  result = stats.ks_2samp(np.asarray(x).ravel(), _target_samples(n))
  assert result.pvalue > 0.01, result


@pytest.mark.parametrize("s", [1.0, 3.0])
def test_iddpm_ddim_classifier_guidance_is_cfg_with_w_s_minus_one(s):
  betas = schedules.named_betas("cosine", 1000)
  d = iddpm.respace(betas, iddpm.space_timesteps(1000, "ddim50"), "fixed_small")
  eps_u, eps_c, cond_fn = _iddpm_fns(d)
  shape, rng = (64, 1, 1, 1), jax.random.PRNGKey(2)
  guided = iddpm.ddim_sample_loop(d, eps_u, rng, shape, clip_denoised=False,
                                  cond_fn=lambda x, t: cond_fn(x, t, s))
  cfg_eps = lambda x, t: guidance.cfg(eps_c(x, t), eps_u(x, t), s - 1.0)
  free = iddpm.ddim_sample_loop(d, cfg_eps, rng, shape, clip_denoised=False)
  np.testing.assert_allclose(guided, free, rtol=1e-3, atol=1e-3)


def test_label_dropout_rate():
  labels = jnp.arange(200_000) % 10
  for p in (0.05, 0.1, 0.2):
    out = guidance.drop_labels(jax.random.PRNGKey(0), labels, p, 10)
    dropped = np.asarray(out == 10)
    se = np.sqrt(p * (1 - p) / len(labels))
    assert abs(dropped.mean() - p) < 4 * se
    kept = ~dropped
    np.testing.assert_array_equal(np.asarray(out)[kept], np.asarray(labels)[kept])


def test_guidance_scale_and_weight():
  assert guidance.resolve_w(None, 3.0) == 2.0
  assert guidance.resolve_w(0.5, None) == 0.5
  assert guidance.resolve_w(None, None) == 0.0
  with pytest.raises(ValueError, match="guidance_scale"):
    guidance.resolve_w(1.0, 2.0)


def test_dynamic_threshold_matches_its_definition():
  x = np.random.default_rng(0).normal(scale=[[0.3], [2.0], [5.0]], size=(3, 400))
  got = np.asarray(guidance.dynamic_threshold(jnp.asarray(x, jnp.float32).reshape(3, 20, 20, 1),
                                              0.9)).reshape(3, 400)
  for row, out in zip(x, got):
    s = max(np.quantile(np.abs(row), 0.9), 1.0)
    np.testing.assert_allclose(out, np.clip(row, -s, s) / s, rtol=1e-5, atol=1e-6)
  assert np.all(np.abs(got) <= 1.0 + 1e-6)


def test_classifier_mode_trains_evaluates_and_guides_each_sampler(tmp_path):
  from vdmjax.run import write_config
  from vdmjax.train.loop import Experiment
  cls_config = load_config_file(os.path.join(CONFIGS, "tiny_classifier.py"))
  cls_dir = str(tmp_path / "classifier")
  write_config(cls_config, cls_dir)
  classifier = Experiment(cls_config, cls_dir)
  classifier.train()
  result = classifier.evaluate()
  assert {"loss", "loss_se", "accuracy", "accuracy_se"} <= set(result)
  assert 0.0 <= result["accuracy"] <= 1.0 and result["loss"] > 0

  config = load_config_file(os.path.join(CONFIGS, "tiny_cfg.py"))
  config.train.num_steps = 2
  exp = Experiment(config, str(tmp_path / "model"))
  exp.config.sample.update(classifier_workdir=cls_dir, classifier_scale=2.0)
  for sampler in ("ancestral", "ddim"):
    exp.config.sample.sampler = sampler
    paths = [exp.sample(path=str(tmp_path / f"{sampler}_{i}.png")) for i in range(2)]
    x = np.load(paths[0].replace(".png", ".npz"))["images"]
    assert x.shape == (4, 28, 28, 1) and x.dtype == np.uint8
  # each (shape, guidance, sampler) setting compiled once, however often it samples
  assert len(exp._sample_fns) == 2
  assert all(fn._cache_size() == 1 for fn in exp._sample_fns.values())
  # the bound of a CFG model, unconditional (null label) and given the true labels; params
  # perturbed off ADM's zero-initialised output layer, so that labels reach the output
  noise = np.random.default_rng(0)
  exp.state = dict(exp.state, ema_params=jax.tree.map(
      lambda p: p + 0.05 * noise.standard_normal(p.shape).astype(p.dtype), exp.state["params"]))
  uncond, cond = exp.evaluate(write=False), exp.evaluate(write=False, conditional=True)
  assert not uncond["conditional"] and cond["conditional"]
  assert np.isfinite(cond["bpd"]) and cond["bpd"] != uncond["bpd"]

  vdm = load_config_file(os.path.join(CONFIGS, "tiny_vdm.py"))
  vdm.sample.classifier_workdir = cls_dir
  with pytest.raises(ValueError, match="trained for a 'iddpm' diffusion"):
    Experiment(vdm, str(tmp_path / "vdm")).sample()


def test_guidance_strengths_are_run_time_inputs_of_one_compiled_sampler(tmp_path):
  from vdmjax.train.loop import Experiment
  exp = Experiment(load_config_file(os.path.join(CONFIGS, "tiny_cfg.py")), str(tmp_path))
  noise = np.random.default_rng(0)   # off ADM's zero-initialised output, so w matters
  exp.state = dict(exp.state, ema_params=jax.tree.map(
      lambda p: p + 0.05 * noise.standard_normal(p.shape).astype(p.dtype), exp.state["params"]))
  grids = {w: np.load(exp.sample(path=str(tmp_path / f"w{w}.png"), guidance_w=w)
                      .replace(".png", ".npz"))["images"] for w in (0.5, 2.0, 4.0)}
  (fn,) = exp._sample_fns.values()
  assert fn._cache_size() == 1
  assert not np.array_equal(grids[0.5], grids[4.0])
  # the traced w gives the sampler of w written into the program as a number
  s = exp.config.sample
  shape, labels = (s.num, 28, 28, 1), jnp.arange(s.num) % 10
  rng = jax.random.PRNGKey(exp.config.seed + 2)
  params = exp.params_for_eval()
  constant = jax.jit(lambda p: exp.objective.sample(p, rng, shape, s.steps, labels, 2.0))(params)
  traced = fn(params, None, rng, labels, jnp.float32(2.0), jnp.float32(0.0))
  np.testing.assert_allclose(np.asarray(traced), np.asarray(constant), atol=1e-5)
