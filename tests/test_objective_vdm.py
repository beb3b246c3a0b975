"""VDM training objective: variance minimisation of the learned schedule, label dropout."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vdmjax.nets.schedule import NoiseSchedule
from vdmjax.nets.vdm_score import VDMScoreNet
from vdmjax.core import guidance
from vdmjax.objectives import vdm


@pytest.fixture(autouse=True)
def float64():
  """The two gradient routes are algebraically equal; float64 makes rounding negligible
  (in float32 the gradient of the squared loss differs by rounding at the 1e-2 level)."""
  jax.config.update("jax_enable_x64", True)
  yield
  jax.config.update("jax_enable_x64", False)


def _setup(schedule_grad, T=0):
  net = VDMScoreNet(n_embd=8, n_layer=1, dropout=0.0, fourier=False, scan_blocks=False)
  obj = vdm.VDMObjective(net, NoiseSchedule(kind="learnable_nnet", n_features=8), T=T,
                         schedule_grad=schedule_grad)
  x = jax.random.randint(jax.random.PRNGKey(0), (6, 4, 4, 1), 0, 256).astype(jnp.uint8)
  batch = {"image": x, "label": jnp.zeros(6, jnp.int32)}
  params = obj.init(jax.random.PRNGKey(1), batch)
  rng = np.random.default_rng(0)
  params = jax.tree.map(lambda p: p + 0.1 * rng.standard_normal(p.shape), params)
  return obj, batch, params


def _assert_trees_close(got, want, rel=1e-4):
  """Leafwise closeness, with float32 noise judged against the tree's largest gradient
  (parameters the bound is invariant to, such as biases before a GroupNorm, get pure noise)."""
  scale = max(float(jnp.max(jnp.abs(w))) for w in jax.tree.leaves(want))
  for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    np.testing.assert_allclose(a, b, rtol=rel, atol=rel * scale)


def _terms(obj, params, batch, rng):
  """Independent route: autodiff straight through the full bound, same randomness."""
  x = batch["image"]
  t, eps, eps_0, _, _ = obj.draw(rng, x.shape)
  gamma_fn = obj.gamma_fn(params)
  vals = vdm.schedule_values(gamma_fn, t, obj.T)
  out = vdm.vlb_terms(x, obj.eps_fn(params), vals, gamma_fn(jnp.array([0.0, 1.0])), eps, eps_0,
                      obj.T)
  norm = 1.0 / (math.prod(x.shape[1:]) * math.log(2.0))
  return out, norm


@pytest.mark.parametrize("T", [0, 10])
def test_variance_gradient_goes_to_the_schedule_interior(T):
  obj, batch, params = _setup("variance", T)
  rng = jax.random.PRNGKey(5)
  grads, _, metrics = jax.jit(obj.grads)(params, {}, batch, rng)

  def bound(p):
    out, norm = _terms(obj, p, batch, rng)
    return jnp.mean(out["total"]) * norm

  def second_moment(p):
    out, norm = _terms(obj, p, batch, rng)
    return jnp.mean((out["diffusion"] * norm) ** 2)

  g_bound = jax.grad(bound)(params)
  g_var = jax.grad(second_moment)(params)
  np.testing.assert_allclose(metrics["loss"], bound(params), rtol=1e-5)
  _assert_trees_close(grads["score"], g_bound["score"])
  _assert_trees_close(grads["schedule"]["ends"], g_bound["schedule"]["ends"])
  interior = lambda g: {k: v for k, v in g["schedule"].items() if k != "ends"}
  _assert_trees_close(interior(grads), interior(g_var))
  # the bound itself is (nearly) blind to the interior: VDM's invariance (eq. 19)
  b_int = max(float(jnp.max(jnp.abs(v))) for v in jax.tree.leaves(interior(g_bound)))
  v_int = max(float(jnp.max(jnp.abs(v))) for v in jax.tree.leaves(interior(g_var)))
  assert T > 0 or b_int < 0.02 * v_int


def test_vlb_schedule_gradient_is_the_bound_gradient():
  obj, batch, params = _setup("vlb")
  rng = jax.random.PRNGKey(2)
  grads, _, _ = jax.jit(obj.grads)(params, {}, batch, rng)
  g_bound = jax.grad(lambda p: jnp.mean(_terms(obj, p, batch, rng)[0]["total"]))(params)
  norm = _terms(obj, params, batch, rng)[1]
  _assert_trees_close(grads, jax.tree.map(lambda g: g * norm, g_bound))


def test_label_dropout_rate():
  labels = jnp.zeros(200_000, jnp.int32)
  for p in (0.05, 0.1, 0.2):
    dropped = guidance.drop_labels(jax.random.PRNGKey(0), labels, p, 10)
    rate = float(jnp.mean(dropped == 10))
    assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / labels.size)
