"""Sample-quality statistics in any feature space: Frechet distance, classifier score,
diversity. Plain numpy (float64), so they are reproducible on every backend."""

from __future__ import annotations

import numpy as np


def feature_stats(features):
  """(mean, covariance) of an (N, D) feature array, as FID computes them (ddof = 1)."""
  f = np.asarray(features, np.float64)
  if f.ndim != 2 or f.shape[0] < 2:
    raise ValueError(f"feature_stats needs (N >= 2, D) features, got shape {f.shape}")
  return f.mean(axis=0), np.cov(f, rowvar=False)


def _psd_sqrt(a):
  vals, vecs = np.linalg.eigh((a + a.T) / 2)
  return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def frechet_distance(mu1, cov1, mu2, cov2):
  """||mu1 - mu2||^2 + tr(C1 + C2 - 2 (C1 C2)^(1/2)) (Heusel et al. 2017, eq. 6).

  tr (C1 C2)^(1/2) is computed as tr (C1^(1/2) C2 C1^(1/2))^(1/2): the same eigenvalues, but
  a symmetric matrix, so no complex square root and no eps-regularisation are needed.
  """
  mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
  cov1, cov2 = np.atleast_2d(cov1).astype(np.float64), np.atleast_2d(cov2).astype(np.float64)
  root1 = _psd_sqrt(cov1)
  middle = root1 @ cov2 @ root1
  tr_sqrt = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)))
  return float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2.0 * tr_sqrt)


def frechet_distance_of(features_a, features_b):
  return frechet_distance(*feature_stats(features_a), *feature_stats(features_b))


def classifier_score(probs, eps=1e-12):
  """exp(E_x KL(p(y|x) || p(y))): the Inception Score with any classifier's p(y|x)."""
  p = np.asarray(probs, np.float64)
  marginal = p.mean(axis=0, keepdims=True)
  kl = np.sum(p * (np.log(p + eps) - np.log(marginal + eps)), axis=1)
  return float(np.exp(kl.mean()))


def mean_pairwise_distance(features, max_points=1000):
  """Mean Euclidean distance between distinct feature vectors (the first ``max_points``)."""
  f = np.asarray(features, np.float64)[:max_points]
  if len(f) < 2:
    return 0.0
  sq = np.sum(f**2, axis=1)
  d2 = np.clip(sq[:, None] + sq[None, :] - 2.0 * f @ f.T, 0.0, None)
  n = len(f)
  return float(np.sqrt(d2)[~np.eye(n, dtype=bool)].mean())


def class_diversity(features, labels, ref_features, ref_labels):
  """Within-class spread of samples relative to real data: for each class present in both,
  mean pairwise feature distance of the samples over that of the reference images, averaged
  over classes. 1 means as diverse as the data; guidance that collapses modes drives it to 0."""
  ratios = []
  for c in np.unique(labels):
    mine, ref = features[labels == c], ref_features[ref_labels == c]
    if len(mine) >= 2 and len(ref) >= 2:
      ratios.append(mean_pairwise_distance(mine) / mean_pairwise_distance(ref))
  return float(np.mean(ratios)) if ratios else float("nan")


def mode_statistics(points, means, std, min_share=0.1):
  """Mode coverage of samples from an isotropic Gaussian mixture (the 25-Gaussians and
  StackedMNIST-style counts of GAN papers).

  A sample is high quality if it lies within 3 ``std`` of its nearest mean; a mode is covered
  if it holds at least ``min_share`` of its equal share (N / modes) of high-quality samples.
  Returns {'modes_covered', 'high_quality' (fraction), 'counts' (per mode)}.
  """
  points, means = np.asarray(points, np.float64), np.asarray(means, np.float64)
  d2 = np.sum((points[:, None, :] - means[None]) ** 2, axis=-1)
  nearest = np.argmin(d2, axis=1)
  good = np.sqrt(d2[np.arange(len(points)), nearest]) <= 3.0 * std
  counts = np.bincount(nearest[good], minlength=len(means))
  covered = int(np.sum(counts >= min_share * len(points) / len(means)))
  return {"modes_covered": covered, "high_quality": float(good.mean()),
          "counts": counts.tolist()}


def mode_histogram(modes, num_modes):
  """The StackedMNIST metrics (VEEGAN, PacGAN, DD-GAN Table 4): how many of ``num_modes``
  modes the samples hit, and KL(sample mode histogram || uniform) in nats."""
  counts = np.bincount(np.asarray(modes), minlength=num_modes)
  p = counts / counts.sum()
  hit = p > 0
  return {"modes": int(hit.sum()), "kl": float(np.sum(p[hit] * np.log(p[hit] * num_modes)))}


def inception_score(logits, splits=10):
  """Salimans et al.'s Inception Score, exp E_x KL(p(y|x) || p(y)), averaged over ``splits``
  equal parts of the samples (the common protocol; 1 split = the whole set)."""
  logits = np.asarray(logits, np.float64)
  logp = logits - logits.max(1, keepdims=True)
  logp -= np.log(np.exp(logp).sum(1, keepdims=True))
  scores = []
  for part in np.array_split(logp, splits):
    p = np.exp(part)
    log_marginal = np.log(p.mean(0) + 1e-30)
    scores.append(np.exp(np.mean(np.sum(p * (part - log_marginal), axis=1))))
  return float(np.mean(scores))


def _kth_neighbour_radii(feats, k):
  d = np.sqrt(np.maximum(_sq_dists(feats, feats), 0.0))
  return np.sort(d, axis=1)[:, k]     # column 0 is the point itself


def _sq_dists(a, b):
  return (a**2).sum(1)[:, None] + (b**2).sum(1)[None] - 2.0 * a @ b.T


def precision_recall(real, fake, k=3):
  """Improved precision and recall (Kynkaenniemi et al. 2019): precision is the share of fake
  features inside the real manifold (the union of balls around each real feature with its
  k-th nearest real neighbour's distance), recall the share of real features inside the fake
  manifold."""
  real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)

  def inside(points, support):
    radii = _kth_neighbour_radii(support, k)
    d = np.sqrt(np.maximum(_sq_dists(points, support), 0.0))
    return float(np.mean(np.any(d <= radii[None], axis=1)))

  return inside(fake, real), inside(real, fake)
