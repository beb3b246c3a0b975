"""FID Inception-v3 in Flax: the network of pytorch-fid (``FIDInceptionA/C/E``, the 2015-12-05
TensorFlow graph that guided-diffusion's evaluator also uses), for FID, Inception Score and
precision/recall at paper scale.

Weights are never downloaded. Convert pytorch-fid's published file once:

1. where torch is installed: ``python tools/export_pt_inception.py
   pt_inception-2015-12-05-6726825d.pth pt_inception.npz`` (the state dict as plain arrays);
2. ``python -m vdmjax.eval.inception --npz pt_inception.npz --out inception_fid.msgpack``.

``load(path)`` reads the msgpack; ``features(params, images)`` returns the 2048-d pool features
and the 1008 logits. Conversion: torch convolutions are OIHW cross-correlations, Flax's HWIO
cross-correlations (a transpose); BatchNorm keeps its running statistics, eps 1e-3.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import re

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from vdmjax.dispatch import fetched_one_behind
from vdmjax.eval import sample_metrics as sm

SIZE = 299
POOL_FEATURES = 2048
NUM_LOGITS = 1008
BN_EPS = 1e-3


class BasicConv(nn.Module):
  """Conv (no bias) + BatchNorm (running statistics) + ReLU: torchvision's BasicConv2d."""
  features: int
  kernel: tuple
  stride: int = 1
  padding: tuple = (0, 0)

  @nn.compact
  def __call__(self, x):
    pad = [(self.padding[0],) * 2, (self.padding[1],) * 2]
    x = nn.Conv(self.features, self.kernel, (self.stride,) * 2, pad, use_bias=False,
                name="conv")(x)
    x = nn.BatchNorm(use_running_average=True, epsilon=BN_EPS, name="bn")(x)
    return nn.relu(x)


def avg_pool_exclude_pad(x):
  """3x3 stride-1 average pooling, padding 1, padded zeros not counted (pytorch-fid's
  ``count_include_pad=False``)."""
  pad = ((0, 0), (1, 1), (1, 1), (0, 0))
  total = jax.lax.reduce_window(x, 0.0, jax.lax.add, (1, 3, 3, 1), (1, 1, 1, 1), pad)
  ones = jnp.ones((1,) + x.shape[1:3] + (1,), x.dtype)
  count = jax.lax.reduce_window(ones, 0.0, jax.lax.add, (1, 3, 3, 1), (1, 1, 1, 1), pad)
  return total / count


def max_pool(x, stride=2, padding=0):
  pad = ((padding, padding), (padding, padding))
  return nn.max_pool(x, (3, 3), (stride, stride), pad)


class InceptionA(nn.Module):
  pool_features: int

  @nn.compact
  def __call__(self, x):
    b1 = BasicConv(64, (1, 1), name="branch1x1")(x)
    b5 = BasicConv(48, (1, 1), name="branch5x5_1")(x)
    b5 = BasicConv(64, (5, 5), padding=(2, 2), name="branch5x5_2")(b5)
    b3 = BasicConv(64, (1, 1), name="branch3x3dbl_1")(x)
    b3 = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(b3)
    b3 = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_3")(b3)
    bp = BasicConv(self.pool_features, (1, 1), name="branch_pool")(avg_pool_exclude_pad(x))
    return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
  @nn.compact
  def __call__(self, x):
    b3 = BasicConv(384, (3, 3), stride=2, name="branch3x3")(x)
    bd = BasicConv(64, (1, 1), name="branch3x3dbl_1")(x)
    bd = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
    bd = BasicConv(96, (3, 3), stride=2, name="branch3x3dbl_3")(bd)
    return jnp.concatenate([b3, bd, max_pool(x)], axis=-1)


class InceptionC(nn.Module):
  channels_7x7: int

  @nn.compact
  def __call__(self, x):
    c7 = self.channels_7x7
    b1 = BasicConv(192, (1, 1), name="branch1x1")(x)
    b7 = BasicConv(c7, (1, 1), name="branch7x7_1")(x)
    b7 = BasicConv(c7, (1, 7), padding=(0, 3), name="branch7x7_2")(b7)
    b7 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7_3")(b7)
    bd = BasicConv(c7, (1, 1), name="branch7x7dbl_1")(x)
    bd = BasicConv(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_2")(bd)
    bd = BasicConv(c7, (1, 7), padding=(0, 3), name="branch7x7dbl_3")(bd)
    bd = BasicConv(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_4")(bd)
    bd = BasicConv(192, (1, 7), padding=(0, 3), name="branch7x7dbl_5")(bd)
    bp = BasicConv(192, (1, 1), name="branch_pool")(avg_pool_exclude_pad(x))
    return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
  @nn.compact
  def __call__(self, x):
    b3 = BasicConv(192, (1, 1), name="branch3x3_1")(x)
    b3 = BasicConv(320, (3, 3), stride=2, name="branch3x3_2")(b3)
    b7 = BasicConv(192, (1, 1), name="branch7x7x3_1")(x)
    b7 = BasicConv(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(b7)
    b7 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(b7)
    b7 = BasicConv(192, (3, 3), stride=2, name="branch7x7x3_4")(b7)
    return jnp.concatenate([b3, b7, max_pool(x)], axis=-1)


class InceptionE(nn.Module):
  """``pool`` 'avg' (FIDInceptionE_1, Mixed_7b) or 'max' (FIDInceptionE_2, Mixed_7c: the TF
  graph's max pooling there)."""
  pool: str

  @nn.compact
  def __call__(self, x):
    b1 = BasicConv(320, (1, 1), name="branch1x1")(x)
    b3 = BasicConv(384, (1, 1), name="branch3x3_1")(x)
    b3 = jnp.concatenate([BasicConv(384, (1, 3), padding=(0, 1), name="branch3x3_2a")(b3),
                          BasicConv(384, (3, 1), padding=(1, 0), name="branch3x3_2b")(b3)], -1)
    bd = BasicConv(448, (1, 1), name="branch3x3dbl_1")(x)
    bd = BasicConv(384, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
    bd = jnp.concatenate([BasicConv(384, (1, 3), padding=(0, 1), name="branch3x3dbl_3a")(bd),
                          BasicConv(384, (3, 1), padding=(1, 0), name="branch3x3dbl_3b")(bd)],
                         -1)
    pooled = avg_pool_exclude_pad(x) if self.pool == "avg" else max_pool(x, 1, 1)
    bp = BasicConv(192, (1, 1), name="branch_pool")(pooled)
    return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class FIDInceptionV3(nn.Module):
  """Images in [-1, 1], (B, 299, 299, 3) -> {'pool': (B, 2048), 'logits': (B, 1008)}."""

  @nn.compact
  def __call__(self, x):
    x = BasicConv(32, (3, 3), stride=2, name="Conv2d_1a_3x3")(x)
    x = BasicConv(32, (3, 3), name="Conv2d_2a_3x3")(x)
    x = BasicConv(64, (3, 3), padding=(1, 1), name="Conv2d_2b_3x3")(x)
    x = max_pool(x)
    x = BasicConv(80, (1, 1), name="Conv2d_3b_1x1")(x)
    x = BasicConv(192, (3, 3), name="Conv2d_4a_3x3")(x)
    x = max_pool(x)
    x = InceptionA(32, name="Mixed_5b")(x)
    x = InceptionA(64, name="Mixed_5c")(x)
    x = InceptionA(64, name="Mixed_5d")(x)
    x = InceptionB(name="Mixed_6a")(x)
    for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
      x = InceptionC(c7, name=name)(x)
    x = InceptionD(name="Mixed_7a")(x)
    x = InceptionE("avg", name="Mixed_7b")(x)
    x = InceptionE("max", name="Mixed_7c")(x)
    pool = jnp.mean(x, axis=(1, 2))
    return {"pool": pool, "logits": nn.Dense(NUM_LOGITS, name="fc")(pool)}


def preprocess(images):
  """uint8 (B, H, W, C), C in {1, 3} -> float32 (B, 299, 299, 3) in [-1, 1], resized
  bilinearly (pytorch-fid's resize_input and normalize_input)."""
  x = jnp.asarray(images, jnp.float32) / 255.0
  if x.shape[-1] == 1:
    x = jnp.repeat(x, 3, axis=-1)
  x = jax.image.resize(x, (x.shape[0], SIZE, SIZE, 3), "bilinear", antialias=False)
  return 2.0 * x - 1.0


def init_variables(rng):
  """Random variables of the network's shapes (tests; real use loads converted weights)."""
  return FIDInceptionV3().init(rng, jnp.zeros((1, SIZE, SIZE, 3)))


def features(variables, images):
  """(pool features (B, 2048), logits (B, 1008)) of uint8 images."""
  out = FIDInceptionV3().apply(variables, preprocess(images))
  return out["pool"], out["logits"]


@functools.lru_cache(maxsize=None)
def _sharded_features(mesh):
  """``features`` jitted with the batch sharded over ``mesh`` (one compile per mesh)."""
  return jax.jit(features, in_shardings=(NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))),
                 out_shardings=NamedSharding(mesh, P("data")))


def activations(variables, images, batch_size=200, mesh=None):
  """(pool (N, 2048), logits (N, 1008)) of uint8 images, batches sharded over ``mesh``'s
  'data' axis (all devices by default; ``batch_size`` divisible by the device count); the
  last batch is padded by wrapping and trimmed."""
  mesh = mesh or Mesh(np.array(jax.devices()), ("data",))
  if batch_size % mesh.size:
    raise ValueError(f"batch_size {batch_size} is not divisible by the {mesh.size} devices")
  fn = _sharded_features(mesh)
  images = np.asarray(images)
  starts = range(0, len(images), batch_size)
  outs = fetched_one_behind(
      fn(variables, images[np.arange(start, start + batch_size) % len(images)])
      for start in starts)
  pools, logits = [], []
  for start, (pool, logit) in zip(starts, outs):
    keep = min(batch_size, len(images) - start)
    pools.append(pool[:keep])
    logits.append(logit[:keep])
  return np.concatenate(pools).astype(np.float64), np.concatenate(logits).astype(np.float64)


def weights_digest(variables):
  """A short digest of the weights: reference statistics are cached per weights file."""
  h = hashlib.sha256()
  for leaf in jax.tree_util.tree_leaves(variables):
    h.update(np.ascontiguousarray(np.asarray(leaf, np.float32)).tobytes())
  return h.hexdigest()[:16]


def reference_stats(variables, images, name, cache_dir, batch_size=200):
  """{'mu', 'sigma', 'pool'} of the reference images, computed once per (``name``, weights)
  and cached as .npz under ``cache_dir`` (written atomically)."""
  path = os.path.join(cache_dir, f"{name}_{weights_digest(variables)}.npz")
  if os.path.exists(path):
    with np.load(path, allow_pickle=False) as f:
      return {k: f[k] for k in f.files}
  pool, _ = activations(variables, images, batch_size)
  stats = {"mu": pool.mean(0), "sigma": np.cov(pool, rowvar=False), "pool": pool}
  os.makedirs(cache_dir, exist_ok=True)
  tmp = path + ".tmp.npz"
  np.savez(tmp, **stats)
  os.replace(tmp, path)
  return stats


def sample_quality(variables, samples, ref, batch_size=200, splits=10, k=3):
  """FID, Inception Score and precision/recall (k-NN manifolds) of uint8 ``samples`` against
  reference statistics ``ref`` (``reference_stats``)."""
  pool, logits = activations(variables, samples, batch_size)
  precision, recall = sm.precision_recall(ref["pool"], pool, k)
  return {"fid": sm.frechet_distance(pool.mean(0), np.cov(pool, rowvar=False), ref["mu"],
                                     ref["sigma"]),
          "inception_score": sm.inception_score(logits, splits),
          "precision": precision, "recall": recall, "num_samples": int(len(samples))}


# --- conversion from pytorch-fid's state dict --------------------------------------------------

def _torch_key_to_path(key):
  """'Mixed_5b.branch1x1.conv.weight' -> (collection, path in the Flax variables)."""
  parts = key.split(".")
  leaf = parts[-1]
  if parts[0] == "fc":
    return "params", ("fc", {"weight": "kernel", "bias": "bias"}[leaf])
  module = tuple(parts[:-1])
  if module[-1] == "conv" and leaf == "weight":
    return "params", module + ("kernel",)
  if module[-1] == "bn":
    collection = "batch_stats" if leaf.startswith("running") else "params"
    name = {"weight": "scale", "bias": "bias", "running_mean": "mean", "running_var": "var"}
    return collection, module + (name[leaf],)
  raise KeyError(f"unexpected key {key!r} in the Inception state dict")


def convert_state_dict(state):
  """pytorch-fid's state dict (name -> numpy array) -> Flax variables {'params',
  'batch_stats'}; checked against the network's own shapes, every variable filled once."""
  out = {"params": {}, "batch_stats": {}}
  for key, value in state.items():
    if key.endswith("num_batches_tracked") or re.match(r"^(AuxLogits|fc_aux)", key):
      continue
    collection, path = _torch_key_to_path(key)
    value = np.asarray(value, np.float32)
    if path[-1] == "kernel":
      value = value.transpose(2, 3, 1, 0) if value.ndim == 4 else value.T   # OIHW -> HWIO
    node = out[collection]
    for p in path[:-1]:
      node = node.setdefault(p, {})
    node[path[-1]] = value
  shapes = lambda tree: {jax.tree_util.keystr(p): tuple(np.shape(leaf))
                         for p, leaf in jax.tree_util.tree_leaves_with_path(tree)}
  want, have = shapes(jax.eval_shape(init_variables, jax.random.PRNGKey(0))), shapes(out)
  if set(want) != set(have):
    raise ValueError("the state dict does not hold exactly the FID Inception's variables "
                     f"(missing {sorted(set(want) - set(have))[:3]}, unexpected "
                     f"{sorted(set(have) - set(want))[:3]})")
  for key, shape in want.items():
    if have[key] != shape:
      raise ValueError(f"{key}: shape {have[key]}, the network needs {shape}")
  return out


def save(variables, path):
  with open(path, "wb") as f:
    f.write(flax.serialization.msgpack_serialize(jax.tree_util.tree_map(np.asarray, variables)))


def load(path):
  """Flax variables of the FID Inception from a msgpack written by ``save``."""
  try:
    with open(path, "rb") as f:
      return flax.serialization.msgpack_restore(f.read())
  except OSError as e:
    raise FileNotFoundError(f"Inception weights {path}: {e.strerror} (convert them once: see "
                            "vdmjax/eval/inception.py)") from None


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--npz", required=True, help="pytorch-fid's state dict as .npz")
  p.add_argument("--out", required=True, help="msgpack file to write")
  args = p.parse_args()
  with np.load(args.npz, allow_pickle=False) as f:
    state = {k: f[k] for k in f.files}
  save(convert_state_dict(state), args.out)
  print(f"wrote {args.out}")


if __name__ == "__main__":
  main()
