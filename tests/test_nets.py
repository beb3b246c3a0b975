import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vdmjax.nets import fourier
from vdmjax.nets.adm import ADMUNet, NoiseAwareClassifier
from vdmjax.nets.ddgan import DDGANDiscriminator, DDGANGenerator, minibatch_stddev
from vdmjax.nets.schedule import NoiseSchedule
from vdmjax.nets.vdm_score import VDMScoreNet, stack_unrolled_params

KEY = jax.random.PRNGKey(0)


def _perturb(params, scale=0.05, seed=0):
  """Random offsets (numpy: no per-shape compilation) that wake up zero-initialised layers."""
  rng = np.random.default_rng(seed)
  return jax.tree.map(lambda p: p + scale * rng.standard_normal(p.shape).astype(np.float32), params)


def _apply(net):
  return jax.jit(net.apply)

Z = jax.random.normal(KEY, (2, 8, 8, 3))
G = jnp.array([-5.0, 2.0])


def test_fourier_features_formula():
  z = jnp.array([[[[0.1, -0.37]]]])
  feats = fourier.fourier_features(z, 7, 8)
  expected = []
  for c in [0.1, -0.37]:
    expected += [np.sin(2**7 * np.pi * c), np.sin(2**8 * np.pi * c),
                 np.cos(2**7 * np.pi * c), np.cos(2**8 * np.pi * c)]
  np.testing.assert_allclose(feats[0, 0, 0], expected, atol=2e-4)
  assert fourier.append_fourier_features(z, 7, 8).shape == (1, 1, 1, 10)
  assert fourier.append_fourier_features(z, enabled=False).shape == z.shape


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_vdm_score_net_shapes_and_base_measure_at_init(dtype):
  net = VDMScoreNet(n_embd=16, n_layer=2, with_attention=True, scan_blocks=False,
                    dtype=jnp.bfloat16 if dtype == "bfloat16" else jnp.float32)
  params = jax.jit(net.init)(KEY, Z, G)
  out = _apply(net)(params, Z, G)
  chex.assert_shape(out, Z.shape)
  chex.assert_type(out, jnp.float32)
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(params))
  # zero-initialised output conv: the prediction is VDM's base measure eps_hat = z
  np.testing.assert_allclose(out, Z, atol=1e-6)


@pytest.mark.parametrize("remat", [False, True])
def test_scanned_stack_equals_unrolled(remat):
  kw = dict(n_embd=16, n_layer=3, with_attention=False, dropout=0.0)
  unrolled = VDMScoreNet(scan_blocks=False, conv="xla", **kw)
  # the scanned stack with the loop-safe convs (two blocks per iteration with remat: 3 and 4
  # blocks leave a remainder), against XLA's convolutions unrolled
  scanned = VDMScoreNet(scan_blocks=True, conv="loop", remat=remat, scan_unroll=1 + remat, **kw)
  params = jax.jit(unrolled.init)(KEY, Z, G)["params"]
  # perturb the zero-initialised layers so that every block contributes
  params = _perturb(params)
  out_u = _apply(unrolled)({"params": params}, Z, G)
  out_s = _apply(scanned)({"params": stack_unrolled_params(params, 3)}, Z, G)
  np.testing.assert_allclose(out_s, out_u, rtol=1e-4, atol=1e-4)
  grad_fn = lambda net, p: jax.jit(jax.grad(
      lambda p_: jnp.sum(net.apply({"params": p_}, Z, G) ** 2)))(p)
  g_u = grad_fn(unrolled, params)
  g_s = grad_fn(scanned, stack_unrolled_params(params, 3))
  chex.assert_trees_all_close(g_s, stack_unrolled_params(g_u, 3), rtol=1e-3, atol=1e-4)
  if remat:   # remat of the unrolled stack: same parameters, values and gradients
    unrolled_remat = VDMScoreNet(scan_blocks=False, remat=True, **kw)
    np.testing.assert_allclose(_apply(unrolled_remat)({"params": params}, Z, G), out_u,
                               rtol=1e-5, atol=1e-5)
    g_r = grad_fn(unrolled_remat, params)
    for a, b in zip(jax.tree.leaves(g_r), jax.tree.leaves(g_u)):
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_scan_unroll_is_checked():
  with pytest.raises(ValueError, match="model.score.scan_unroll 0 is not an integer >= 1"):
    VDMScoreNet(n_embd=8, n_layer=1, scan_blocks=True, scan_unroll=0).init(KEY, Z, G)


def _xla_conv(x, kernel):
  return jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME",
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"))


@pytest.mark.parametrize("kernel", [(3, 3), (1, 3), (3, 1), (5, 5), (1, 1)])
def test_conv_same_value_and_gradients_are_xla_convolutions(kernel):
  from vdmjax.nets.layers import conv_same
  kx, kk, ky = jax.random.split(KEY, 3)
  x = jax.random.normal(kx, (3, 7, 6, 5))
  k = jax.random.normal(kk, kernel + (5, 4))
  dy = jax.random.normal(ky, (3, 7, 6, 4))
  y, vjp = jax.vjp(conv_same, x, k)
  y_ref, vjp_ref = jax.vjp(_xla_conv, x, k)
  np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
  # JAX's own transpose rules of the convolution are the truth for the hand-written VJP
  for a, b in zip(vjp(dy), vjp_ref(dy)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_conv_same_gradients_inside_a_scan_and_in_bfloat16():
  from vdmjax.nets.layers import LoopConv, conv_same
  x = jax.random.normal(KEY, (2, 8, 8, 4))
  ks = 0.2 * jax.random.normal(jax.random.PRNGKey(1), (3, 3, 3, 4, 4))

  def loss(conv, ks, x):
    h, _ = jax.lax.scan(lambda h, k: (h + conv(jnp.tanh(h), k), None), x, ks)
    return jnp.sum(h ** 2)
  g = jax.jit(jax.grad(lambda ks, x: loss(conv_same, ks, x), argnums=(0, 1)))(ks, x)
  g_ref = jax.grad(lambda ks, x: loss(_xla_conv, ks, x), argnums=(0, 1))(ks, x)
  chex.assert_trees_all_close(g, g_ref, rtol=1e-4, atol=1e-4)
  # bfloat16 compute, float32 parameters: gradients come back in the parameters' dtype
  net = LoopConv(4, dtype=jnp.bfloat16)
  params = net.init(KEY, x)
  grads = jax.grad(lambda p: jnp.sum(net.apply(p, x).astype(jnp.float32) ** 2))(params)
  assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(grads))
  with pytest.raises(ValueError, match=r"kernel size \(2, 2\) is not odd"):
    LoopConv(4, (2, 2)).init(KEY, x)


def test_conv_choice_of_the_networks():
  from vdmjax.nets.vdm_score import resolve_conv
  assert resolve_conv("auto", scanned=True, train=True) == "loop"     # this CPU
  assert resolve_conv("auto", scanned=True, train=False) == "xla"     # eval: jvp needs XLA's
  assert resolve_conv("auto", scanned=False, train=True) == "xla"
  assert resolve_conv("loop", scanned=False, train=False) == "loop"
  with pytest.raises(ValueError, match="model.score.conv 'im2col'"):
    resolve_conv("im2col", scanned=True, train=True)
  # the classifier's loop-safe convs: same parameters, logits and input gradients as XLA's
  kw = dict(num_classes=3, model_channels=16, channel_mult=(1, 2), num_res_blocks=1,
            attention_resolutions=(4,), num_head_channels=16)
  xla, loop = NoiseAwareClassifier(conv="xla", **kw), NoiseAwareClassifier(conv="loop", **kw)
  params = _perturb(jax.jit(xla.init)(KEY, Z, G))

  def logits_and_input_grad(params, z, conv):
    net = loop if conv == "loop" else xla
    logp = lambda z_: jnp.sum(jax.nn.log_softmax(net.apply(params, z_, G))[:, 1])
    return net.apply(params, z, G), jax.grad(logp)(z)
  f = jax.jit(logits_and_input_grad, static_argnums=2)
  chex.assert_trees_all_close(f(params, Z, "loop"), f(params, Z, "xla"), rtol=1e-3, atol=1e-5)
  with pytest.raises(ValueError, match="model.classifier.conv 'fast'"):
    NoiseAwareClassifier(conv="fast", **kw).init(KEY, Z, G)


@pytest.fixture(scope="module")
def adm():
  net = ADMUNet(model_channels=32, out_channels=3, channel_mult=(1, 2), num_res_blocks=1,
                attention_resolutions=(4,), num_heads=2, num_classes=10, learn_sigma=True)
  return net, jax.jit(net.init)(KEY, Z, G, jnp.array([3, 7])), jax.jit(net.apply)


def test_adm_unet_labels_null_and_learned_sigma(adm):
  net, fresh, apply = adm
  labels = jnp.array([3, 7])
  # zero-initialised output conv: zero prediction at init (guided-diffusion's zero_module)
  np.testing.assert_allclose(apply(fresh, Z, G, labels), 0.0, atol=1e-7)
  params = _perturb(fresh)
  out = apply(params, Z, G, labels)
  chex.assert_shape(out, (2, 8, 8, 6))
  null = apply(params, Z, G, jnp.array([10, 10]))
  assert float(jnp.abs(out - null).max()) > 1e-3
  # no labels means the null label
  np.testing.assert_allclose(jax.jit(lambda p: net.apply(p, Z, G))(params), null, atol=1e-6)


def test_unconditional_models_ignore_labels():
  net = VDMScoreNet(n_embd=16, n_layer=1, scan_blocks=False)
  params = _perturb(jax.jit(net.init)(KEY, Z, G))
  apply = jax.jit(net.apply)
  np.testing.assert_allclose(apply(params, Z, G, jnp.array([1, 2])), apply(params, Z, G),
                             atol=1e-6)


def test_adm_rejects_an_image_size_it_cannot_take():
  net = ADMUNet(model_channels=32, out_channels=3, channel_mult=(1, 2, 2))
  with pytest.raises(ValueError, match="does not fit a U-Net of 3 levels"):
    jax.jit(net.init)(KEY, jnp.zeros((1, 6, 6, 3)), jnp.zeros(1))


def test_classifier_logits_depend_on_gamma():
  clf = NoiseAwareClassifier(num_classes=10, model_channels=32, channel_mult=(1, 2),
                             num_res_blocks=1, attention_resolutions=(4,), num_head_channels=16)
  params = jax.jit(clf.init)(KEY, Z, G)
  # zero-initialised residual branches hide the noise level at init; perturb them
  params = _perturb(params)
  logits = _apply(clf)(params, Z, G)
  chex.assert_shape(logits, (2, 10))
  other = _apply(clf)(params, Z, G + 3.0)
  assert float(jnp.abs(logits - other).max()) > 1e-4


def test_ddgan_players():
  gen = DDGANGenerator(model_channels=16, out_channels=3, channel_mult=(1, 2),
                       num_res_blocks=1, attention_resolutions=())
  t = jnp.array([0, 3])
  z = jax.random.normal(KEY, (2, 100))
  params = jax.jit(gen.init)(KEY, Z, t, z)
  params = _perturb(params)
  apply = jax.jit(gen.apply)
  x0 = apply(params, Z, t, z)
  chex.assert_shape(x0, Z.shape)
  assert float(jnp.abs(x0).max()) <= 1.0
  assert float(jnp.abs(x0 - apply(params, Z, t, -z)).max()) > 1e-4  # z drives the style
  disc = DDGANDiscriminator(ngf=8)
  x = jax.random.normal(KEY, (4, 16, 16, 3))
  dp = jax.jit(disc.init)(KEY, x, x, jnp.arange(4))
  d_apply = jax.jit(disc.apply)
  logits = d_apply(dp, x, x, jnp.arange(4))
  chex.assert_shape(logits, (4,))
  assert float(jnp.abs(logits - d_apply(dp, x, x, jnp.arange(4) + 1)).max()) > 1e-6


def test_minibatch_stddev_against_numpy():
  x = jax.random.normal(KEY, (8, 2, 2, 4))
  out = minibatch_stddev(x, group_size=4)
  xn = np.asarray(x).reshape(4, 2, 2, 2, 4)
  std = np.sqrt(xn.var(axis=0) + 1e-8).mean(axis=(1, 2, 3))   # per subgroup
  np.testing.assert_allclose(out[:, 0, 0, 4], np.tile(std, 4), rtol=1e-5)


_SCHEDULES = {kind: NoiseSchedule(kind=kind, gamma_min=-13.3, gamma_max=5.0, n_features=64)
              for kind in ["learnable_nnet", "learnable_scalar"]}
_SCHEDULE_FNS = {kind: (jax.jit(s.apply), jax.jit(jax.vmap(jax.grad(s.apply, argnums=1), (None, 0))))
                 for kind, s in _SCHEDULES.items()}


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), kind=st.sampled_from(sorted(_SCHEDULES)),
       scale=st.floats(0.01, 10.0))
def test_learned_schedule_monotonic_and_hits_end_points(seed, kind, scale):
  sched = _SCHEDULES[kind]
  apply, dgamma_dt = _SCHEDULE_FNS[kind]
  params = _perturb(jax.jit(sched.init)(KEY, jnp.zeros(2)), scale, seed)
  t = jnp.linspace(0.0, 1.0, 513)
  g = apply(params, t)
  assert bool(jnp.all(jnp.isfinite(g)))
  assert bool(jnp.all(jnp.diff(g) > 0))
  ends = params["params"]["ends"]
  g0 = ends["gamma_0"]
  g1 = g0 + jax.nn.softplus(ends["gamma_span"])
  np.testing.assert_allclose([g[0], g[-1]], [g0, g1], rtol=1e-5, atol=1e-4)
  assert bool(jnp.all(dgamma_dt(params, t) > 0))


def test_schedule_rejects_inverted_end_points():
  with pytest.raises(ValueError, match="gamma_min .* must be below gamma_max"):
    NoiseSchedule(kind="learnable_nnet", gamma_min=5.0, gamma_max=-13.3).init(KEY, jnp.zeros(1))
