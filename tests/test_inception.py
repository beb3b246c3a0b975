"""FID Inception: the converter against torch's layout and conv semantics (numpy), the network's
shapes and determinism with generated weights, and the Inception Score and precision/recall
against closed forms."""

import json

import jax
import numpy as np
import pytest

from vdmjax.eval import fid, inception
from vdmjax.eval import sample_metrics as sm


def _torch_state_from_template(rng):
  """A random state dict with pytorch-fid's names and torch's layouts (OIHW, (out, in))."""
  shapes = jax.tree_util.tree_map(np.shape, jax.eval_shape(inception.init_variables,
                                                           jax.random.PRNGKey(0)))
  state = {}
  names = {"kernel": "weight", "scale": "weight", "bias": "bias", "mean": "running_mean",
           "var": "running_var"}
  for path, shape in jax.tree_util.tree_leaves_with_path(
      shapes, is_leaf=lambda x: isinstance(x, tuple)):
    keys = [p.key for p in path[1:]]
    torch_shape = tuple(shape)
    if keys[-1] == "kernel":
      torch_shape = (shape[3], shape[2], shape[0], shape[1]) if len(shape) == 4 else shape[::-1]
    value = rng.standard_normal(torch_shape).astype(np.float32)
    if keys[-1] == "var":
      value = np.abs(value) + 0.5
    state[".".join(keys[:-1] + [names[keys[-1]]])] = value
  state["Conv2d_1a_3x3.bn.num_batches_tracked"] = np.array(0)
  state["AuxLogits.fc.weight"] = np.zeros((1000, 768), np.float32)   # not in the FID network
  return state


def test_converter_fills_every_variable_with_torch_layouts_transposed():
  state = _torch_state_from_template(np.random.default_rng(0))
  out = inception.convert_state_dict(state)
  w = state["Mixed_6b.branch7x7_2.conv.weight"]                      # (O, I, 1, 7)
  np.testing.assert_array_equal(out["params"]["Mixed_6b"]["branch7x7_2"]["conv"]["kernel"],
                                w.transpose(2, 3, 1, 0))
  np.testing.assert_array_equal(out["params"]["fc"]["kernel"], state["fc.weight"].T)
  np.testing.assert_array_equal(out["batch_stats"]["Mixed_7c"]["branch_pool"]["bn"]["var"],
                                state["Mixed_7c.branch_pool.bn.running_var"])
  del state["Mixed_5b.branch1x1.conv.weight"]
  with pytest.raises(ValueError, match="exactly"):
    inception.convert_state_dict(state)
  state = _torch_state_from_template(np.random.default_rng(0))
  state["fc.bias"] = np.zeros(1000, np.float32)
  with pytest.raises(ValueError, match="fc"):
    inception.convert_state_dict(state)


def _torch_basic_conv(x, w, gamma, beta, mean, var, pad):
  """torch's BasicConv2d in numpy: cross-correlation (OIHW weight, NHWC data), BN, ReLU."""
  o, i, kh, kw = w.shape
  xp = np.pad(x, ((0, 0), (pad[0],) * 2, (pad[1],) * 2, (0, 0)))
  h, wd = xp.shape[1] - kh + 1, xp.shape[2] - kw + 1
  y = np.zeros((x.shape[0], h, wd, o))
  for a in range(kh):
    for b in range(kw):
      y += np.einsum("nhwi,oi->nhwo", xp[:, a:a + h, b:b + wd], w[:, :, a, b])
  y = (y - mean) / np.sqrt(var + inception.BN_EPS) * gamma + beta
  return np.maximum(y, 0.0)


@pytest.mark.parametrize("kernel,pad", [((1, 7), (0, 3)), ((7, 1), (3, 0)), ((3, 3), (1, 1))])
def test_a_converted_conv_computes_what_torch_computes(kernel, pad):
  rng = np.random.default_rng(1)
  w = rng.standard_normal((5, 3) + kernel)
  gamma, beta, mean = rng.standard_normal((3, 5))
  var = np.abs(rng.standard_normal(5)) + 0.5
  x = rng.standard_normal((2, 9, 10, 3))
  state = {"conv.weight": w, "bn.weight": gamma, "bn.bias": beta, "bn.running_mean": mean,
           "bn.running_var": var}
  variables = {"params": {}, "batch_stats": {}}
  for key, value in state.items():
    collection, path = inception._torch_key_to_path(key)
    node = variables[collection].setdefault(path[0], {})
    node[path[1]] = value.transpose(2, 3, 1, 0) if path[1] == "kernel" else value
  got = inception.BasicConv(5, kernel, padding=pad).apply(variables, x.astype(np.float32))
  np.testing.assert_allclose(got, _torch_basic_conv(x, w, gamma, beta, mean, var, pad),
                             rtol=1e-4, atol=1e-4)


def test_network_shapes_sharding_determinism_and_the_command_line(tmp_path, monkeypatch):
  variables = inception.init_variables(jax.random.PRNGKey(0))
  images = np.random.default_rng(0).integers(0, 256, (10, 28, 28, 1), dtype=np.uint8)
  pool, logits = inception.activations(variables, images, batch_size=8)
  assert pool.shape == (10, 2048) and logits.shape == (10, 1008)
  assert np.all(np.isfinite(pool)) and np.all(pool >= 0)            # after ReLU and mean
  again, _ = inception.activations(variables, images[:8], batch_size=8)
  np.testing.assert_allclose(again, pool[:8], rtol=1e-5, atol=1e-6)
  path = str(tmp_path / "w.msgpack")
  inception.save(variables, path)
  restored = inception.load(path)
  assert inception.weights_digest(restored) == inception.weights_digest(variables)
  ref = inception.reference_stats(variables, images, "toy", str(tmp_path), batch_size=8)
  assert ref["mu"].shape == (2048,) and ref["sigma"].shape == (2048, 2048)
  cached = inception.reference_stats(variables, None, "toy", str(tmp_path))   # from the cache
  np.testing.assert_array_equal(cached["mu"], ref["mu"])
  quality = inception.sample_quality(variables, images, ref, batch_size=8, splits=1)
  assert abs(quality["fid"]) < 1e-3 and quality["precision"] == quality["recall"] == 1.0
  # the command line: samples from an .npz against a dataset split (here 10 images of it)
  monkeypatch.setattr(fid.sources, "load", lambda *a: (images, np.zeros(10, np.int32)))
  np.savez(tmp_path / "s.npz", images=images[:8])
  fid.main([f"--weights={path}", f"--samples={tmp_path / 's.npz'}", "--data=mnist_local",
            "--batch_size=8", f"--cache_dir={tmp_path / 'ref'}", f"--out={tmp_path / 'q.json'}"])
  result = json.load(open(tmp_path / "q.json"))
  assert result["num_samples"] == 8 and result["precision"] == 1.0 and result["fid"] > 0


def test_inception_score_closed_forms():
  assert np.isclose(sm.inception_score(np.zeros((100, 10)), splits=2), 1.0)
  confident = np.full((100, 10), -1e4)
  confident[np.arange(100), np.arange(100) % 10] = 0.0   # every class, one-hot: IS = 10
  assert np.isclose(sm.inception_score(confident, splits=1), 10.0, rtol=1e-6)
  confident[:, 1:] = -1e4
  confident[:, 0] = 0.0                                   # one class for all: IS = 1
  assert np.isclose(sm.inception_score(confident, splits=1), 1.0)


def test_precision_recall_closed_forms():
  real = np.arange(10.0)[:, None]                        # points 0..9 on a line
  assert sm.precision_recall(real, real.copy(), k=1) == (1.0, 1.0)
  assert sm.precision_recall(real, real + 100.0, k=1) == (0.0, 0.0)
  # k = 1: every real ball has radius 1; fakes at 9.5 and 12 -> one of two inside
  fake = np.array([[9.5], [12.0], [12.5], [13.0]])
  precision, recall = sm.precision_recall(real, fake, k=1)
  assert precision == 0.25
  # fake radii (k = 1): 2.5, 0.5, 0.5, 0.5 -> real points within 2.5 of 9.5: 7, 8, 9
  assert recall == 0.3
