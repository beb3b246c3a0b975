"""The independent MNIST classifier that scores samples (accuracy, Frechet distance in its
feature space, classifier score, diversity): the CPU-scale stand-in for Inception.

It is trained on the held-out split of ``mnist_local`` (2,000 images, with random shifts), the
split no diffusion model trains on, and its accuracy is reported on the 8,000 training images.
Training is deterministic for a seed; the parameters are cached as msgpack (no pickle).
"""

from __future__ import annotations

import hashlib
import json
import os

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax

from vdmjax.data import sources
from vdmjax.dispatch import fetched_one_behind
from vdmjax.eval import sample_metrics as sm

FEATURES = 128
DEFAULTS = dict(steps=1500, batch_size=64, lr=2e-3, seed=0, max_shift=2)


class MNISTClassifier(nn.Module):
  """Two conv blocks and a 128-unit feature layer; ``features`` are its penultimate output."""

  @nn.compact
  def __call__(self, x, return_features=False):
    x = x.astype(jnp.float32) / 127.5 - 1.0
    for ch in (32, 64):
      x = nn.relu(nn.Conv(ch, (3, 3))(x))
      x = nn.relu(nn.Conv(ch, (3, 3))(x))
      x = nn.max_pool(x, (2, 2), (2, 2))
    h = nn.relu(nn.Dense(FEATURES)(x.reshape(x.shape[0], -1)))
    logits = nn.Dense(10)(h)
    return (logits, h) if return_features else logits


def _shift(rng, images, max_shift):
  """Random integer translations by up to ``max_shift`` pixels, zero filled."""
  n, h, w, _ = images.shape
  padded = np.pad(images, ((0, 0), (max_shift,) * 2, (max_shift,) * 2, (0, 0)))
  dy, dx = rng.integers(0, 2 * max_shift + 1, size=(2, n))
  return np.stack([padded[i, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def train(images, labels, steps, batch_size, lr, seed, max_shift):
  """Adam with cosine decay on cross-entropy; returns the parameters."""
  model = MNISTClassifier()
  params = model.init(jax.random.PRNGKey(seed), images[:1])["params"]
  tx = optax.adam(optax.cosine_decay_schedule(lr, steps))
  opt_state = tx.init(params)

  @jax.jit
  def step(params, opt_state, x, y):
    def loss_fn(p):
      logits = model.apply({"params": p}, x)
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    grads = jax.grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  rng = np.random.default_rng(seed)
  for _ in range(steps):
    idx = rng.integers(0, len(images), batch_size)
    params, opt_state = step(params, opt_state, _shift(rng, images[idx], max_shift),
                             labels[idx])
  return params


class Scorer:
  """A trained classifier: ``logits_and_features(images) -> (logits, features)`` in batches."""

  def __init__(self, params):
    self.params = params
    self._apply = jax.jit(lambda p, x: MNISTClassifier().apply({"params": p}, x, True))

  def logits_and_features(self, images, batch_size=500):
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.shape[1:] != (28, 28, 1):
      raise ValueError(f"MNIST scorer needs uint8 (N, 28, 28, 1) images, got {images.dtype} "
                       f"{images.shape}")
    outs = list(fetched_one_behind(self._apply(self.params, images[i:i + batch_size])
                                   for i in range(0, len(images), batch_size)))
    return (np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs]))

  def accuracy(self, images, labels):
    logits, _ = self.logits_and_features(images)
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def _cache_path(cache_dir, settings):
  digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
  return os.path.join(cache_dir, f"mnist_classifier_{digest}.msgpack")


def load_or_train(cache_dir="runs/eval_classifier", **overrides):
  """The scorer for these settings, trained once and then read from ``cache_dir``."""
  settings = dict(DEFAULTS, **overrides)
  path = _cache_path(cache_dir, settings)
  images, labels = sources.load_local_mnist("eval")
  template = MNISTClassifier().init(jax.random.PRNGKey(0), images[:1])["params"]
  if os.path.exists(path):
    with open(path, "rb") as f:
      return Scorer(flax.serialization.from_bytes(template, f.read()))
  params = train(images, labels, **settings)
  os.makedirs(cache_dir, exist_ok=True)
  tmp = path + ".tmp"
  with open(tmp, "wb") as f:
    f.write(flax.serialization.to_bytes(jax.device_get(params)))
  os.replace(tmp, path)
  return Scorer(params)


def score_samples(scorer, samples, ref_images, ref_labels, sample_labels=None):
  """Frechet distance to the reference images in the scorer's feature space, classifier
  score, and (for class-conditional samples) accuracy and within-class diversity."""
  logits, feats = scorer.logits_and_features(samples)
  _, ref_feats = scorer.logits_and_features(ref_images)
  probs = np.asarray(jax.nn.softmax(logits, axis=1))
  pred = np.argmax(logits, axis=1)
  out = {"frechet": sm.frechet_distance_of(feats, ref_feats),
         "classifier_score": sm.classifier_score(probs), "num_samples": int(len(samples))}
  if sample_labels is not None:
    out["accuracy"] = float(np.mean(pred == sample_labels))
    out["diversity"] = sm.class_diversity(feats, np.asarray(sample_labels), ref_feats,
                                          ref_labels)
  else:
    out["diversity"] = sm.class_diversity(feats, pred, ref_feats, ref_labels)
  return out
