"""Sample-quality statistics against independent computations and closed forms."""

import jax
import numpy as np
import scipy.linalg

from vdmjax.data import sources
from vdmjax.eval import mnist_classifier
from vdmjax.eval import sample_metrics as sm


def _scipy_frechet(mu1, c1, mu2, c2):
  """pytorch-fid's form: tr(C1 + C2 - 2 sqrtm(C1 C2)) with a general matrix square root."""
  covmean = scipy.linalg.sqrtm(c1 @ c2).real
  return float(np.sum((mu1 - mu2) ** 2) + np.trace(c1 + c2 - 2 * covmean))


def test_frechet_distance_matches_the_general_sqrtm_form():
  rng = np.random.default_rng(0)
  a, b = rng.normal(size=(200, 16)), rng.normal(size=(300, 16)) @ rng.normal(size=(16, 16))
  mu1, c1 = sm.feature_stats(a)
  mu2, c2 = sm.feature_stats(b + 0.5)
  np.testing.assert_allclose(sm.frechet_distance(mu1, c1, mu2, c2),
                             _scipy_frechet(mu1, c1, mu2, c2), rtol=1e-6)


def test_frechet_distance_closed_forms():
  # 1-D Gaussians: (m1 - m2)^2 + (s1 - s2)^2
  np.testing.assert_allclose(sm.frechet_distance([0.3], [[4.0]], [-0.2], [[1.0]]),
                             0.25 + 1.0, rtol=1e-12)
  # commuting (diagonal) covariances: sum (sqrt a - sqrt b)^2
  a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
  np.testing.assert_allclose(sm.frechet_distance(np.zeros(3), np.diag(a), np.zeros(3),
                                                 np.diag(b)),
                             np.sum((np.sqrt(a) - np.sqrt(b)) ** 2), rtol=1e-12)
  assert abs(sm.frechet_distance(np.ones(4), np.eye(4), np.ones(4), np.eye(4))) < 1e-12


def test_classifier_score_and_diversity_limits():
  k = 10
  assert abs(sm.classifier_score(np.eye(k)[np.arange(1000) % k]) - k) < 1e-6
  assert abs(sm.classifier_score(np.tile(np.eye(k)[3], (100, 1))) - 1.0) < 1e-6
  assert abs(sm.classifier_score(np.full((50, k), 1.0 / k)) - 1.0) < 1e-6
  feats = np.random.default_rng(0).normal(size=(40, 5))
  labels = np.arange(40) % 4
  assert abs(sm.class_diversity(feats, labels, feats, labels) - 1.0) < 1e-12
  collapsed = np.repeat(feats[:1], 40, axis=0)
  assert sm.class_diversity(collapsed, labels, feats, labels) == 0.0


def test_mnist_scorer_training_is_deterministic_and_scores_real_digits():
  images, labels = sources.load_local_mnist("eval")
  settings = dict(steps=3, batch_size=16, lr=1e-3, seed=0, max_shift=2)
  a = mnist_classifier.train(images, labels, **settings)
  b = mnist_classifier.train(images, labels, **settings)
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_array_equal(x, y)
  scorer = mnist_classifier.Scorer(a)
  logits, feats = scorer.logits_and_features(images[:20])
  assert logits.shape == (20, 10) and feats.shape == (20, mnist_classifier.FEATURES)
  out = mnist_classifier.score_samples(scorer, images[:100], images[100:300], labels[100:300],
                                       labels[:100])
  assert {"frechet", "classifier_score", "accuracy", "diversity"} <= set(out)


def test_mode_statistics_of_exact_mixture_draws():
  """Exact 25-Gaussians draws: every mode covered; the high-quality share is the 2-D Gaussian
  mass within 3 std, 1 - exp(-9/2), within 4 standard errors."""
  from vdmjax.data.sources import grid_25_gaussians
  points, _ = grid_25_gaussians(np.random.default_rng(0), 20_000)
  g = np.arange(-4, 5, 2)
  means = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
  stats = sm.mode_statistics(points, means, 0.05)
  p = 1.0 - np.exp(-4.5)
  assert stats["modes_covered"] == 25
  assert abs(stats["high_quality"] - p) < 4 * np.sqrt(p * (1 - p) / 20_000)
  # only the first ten modes drawn: ten covered
  few = points[np.argmin(((points[:, None] - means[None]) ** 2).sum(-1), 1) < 10]
  assert sm.mode_statistics(few, means, 0.05)["modes_covered"] == 10


def test_mode_histogram_kl_to_uniform():
  assert sm.mode_histogram(np.arange(1000), 1000) == {"modes": 1000, "kl": 0.0}
  # half the mass on each of two modes out of four: KL = log 2
  got = sm.mode_histogram(np.array([0, 0, 3, 3]), 4)
  assert got["modes"] == 2 and np.isclose(got["kl"], np.log(2.0))


def test_stacked_mnist_labels_name_the_channel_digits():
  images, labels = sources.load_local_mnist("eval")
  stacked, modes = sources.stacked_mnist(images, labels, 50, seed=0)
  assert stacked.shape == (50, 28, 28, 3) and stacked.dtype == np.uint8
  for i in range(50):
    for c, place in enumerate((100, 10, 1)):
      match = np.flatnonzero((images[..., 0] == stacked[i, ..., c]).all(axis=(1, 2)))
      assert (modes[i] // place) % 10 in labels[match]
