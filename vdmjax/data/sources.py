"""Data sources as in-memory arrays: images uint8 (N, H, W, C), labels int32 (N,).

'mnist_local' is the MNIST test split shipped with the package (10,000 images; attribution in
``vdmjax/data/mnist/README.md``), split deterministically into 8,000 train and 2,000 held-out
images: the offline default. Any other name is a tensorflow-datasets name ('cifar10',
'mnist', 'downsampled_imagenet/32x32', 'downsampled_imagenet/64x64', ...) read from
``data_dir`` without download, each host taking its own part of the split.
"""

from __future__ import annotations

import gzip
import importlib.resources

import numpy as np

LOCAL_MNIST = "mnist_local"
TOY_25_GAUSSIANS = "toy_25gaussians"
TOY_SIZES = {"train": (50_000, 0), "eval": (5_000, 1)}   # (points, seed)
STACKED_MNIST = "stacked_mnist_local"
STACKED_SIZES = {"train": (50_000, 2), "eval": (10_000, 3)}   # (triples, seed)
HELD_OUT = 2000
TFDS_SPLITS = {"train": "train", "eval": "test"}
TFDS_EVAL_SPLIT = {"downsampled_imagenet/32x32": "validation",
                   "downsampled_imagenet/64x64": "validation"}


class DataError(ValueError):
  """A data problem stated in one line (missing file, bad header, unknown dataset)."""


def _read_idx(path, magic, ndim):
  try:
    with gzip.open(path, "rb") as f:
      raw = f.read()
  except (OSError, EOFError) as e:
    raise DataError(f"cannot read {path}: {e}") from None
  header = np.frombuffer(raw[: 4 * (ndim + 1)], dtype=">i4")
  if len(header) != ndim + 1 or header[0] != magic:
    raise DataError(f"{path}: not an IDX file with magic {magic}")
  dims = tuple(int(d) for d in header[1:])
  data = np.frombuffer(raw[4 * (ndim + 1):], dtype=np.uint8)
  if data.size != int(np.prod(dims)):
    raise DataError(f"{path}: holds {data.size} values, its header says {dims}")
  return data.reshape(dims)


def load_local_mnist(split):
  """The embedded MNIST test split: 'train' (8,000 images) or 'eval' (2,000), fixed split."""
  root = importlib.resources.files("vdmjax.data") / "mnist"
  images = _read_idx(root / "t10k-images-idx3-ubyte.gz", 2051, 3)[..., None]
  labels = _read_idx(root / "t10k-labels-idx1-ubyte.gz", 2049, 1).astype(np.int32)
  perm = np.random.default_rng(0).permutation(len(images))
  idx = perm[HELD_OUT:] if split == "train" else perm[:HELD_OUT]
  return np.ascontiguousarray(images[idx]), labels[idx]


def load_tfds(name, split, data_dir=None):
  """A tfds dataset by name, this host's part of the split, as arrays; never downloads."""
  try:
    import tensorflow_datasets as tfds
  except ImportError:
    raise DataError(f"data.name {name!r} needs tensorflow-datasets: pip install "
                    "'vdmjax[tfds]'") from None
  tfds_split = TFDS_EVAL_SPLIT.get(name, "test") if split == "eval" else "train"
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except Exception:  # tfds raises several types for unknown names
    raise DataError(f"data.name {name!r} is neither 'mnist_local' nor a tensorflow-datasets "
                    "dataset") from None
  if not builder.is_prepared():
    raise DataError(f"data.name {name!r}: not prepared under data.data_dir "
                    f"{data_dir or tfds.core.constants.DATA_DIR!r} (prepare it with "
                    f"`tfds build {name} --data_dir=...`; nothing is downloaded at run time)")
  host_split = tfds.split_for_jax_process(tfds_split)
  ds = builder.as_dataset(split=host_split, shuffle_files=False)
  images, labels = [], []
  for ex in tfds.as_numpy(ds):
    images.append(ex["image"])
    labels.append(ex.get("label", 0))
  images = np.stack(images).astype(np.uint8)
  if images.ndim == 3:
    images = images[..., None]
  return images, np.asarray(labels, np.int32)


def load(name, split, data_dir=None):
  """(images uint8 NHWC, labels int32) for 'train' or 'eval' of dataset ``name``."""
  if split not in TFDS_SPLITS:
    raise DataError(f"split {split!r} is not 'train' or 'eval'")
  if name == LOCAL_MNIST:
    images, labels = load_local_mnist(split)
  elif name == STACKED_MNIST:
    images, labels = stacked_mnist(*load_local_mnist(split), *STACKED_SIZES[split])
  elif name == TOY_25_GAUSSIANS:
    n, seed = TOY_SIZES[split]
    images, labels = grid_25_gaussians(np.random.default_rng(seed), n)
    labels = labels.astype(np.int32)
  else:
    images, labels = load_tfds(name, split, data_dir)
  check_arrays(images, labels, f"data.name={name} ({split})")
  return images, labels


def check_arrays(images, labels, where, num_classes=0):
  """Images uint8 (N, H, W, C) or points float32 (N, D), N > 0; labels integer (N,), below
  ``num_classes`` if > 0."""
  images, labels = np.asarray(images), np.asarray(labels)
  is_images = images.dtype == np.uint8 and images.ndim == 4
  is_points = images.dtype == np.float32 and images.ndim == 2
  if not (is_images or is_points) or len(images) == 0:
    raise DataError(f"{where}: images must be uint8 of shape (N, H, W, C) (or points float32 "
                    f"(N, D)), got {images.dtype} {images.shape}")
  if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
    raise DataError(f"{where}: labels must be integers of shape ({len(images)},), got "
                    f"{labels.dtype} {labels.shape}")
  if num_classes > 0 and (labels.min() < 0 or labels.max() >= num_classes):
    raise DataError(f"{where}: labels span {labels.min()}..{labels.max()}, outside the "
                    f"model's num_classes = {num_classes} (0..{num_classes - 1})")


def batch_indices(step, num_examples, batch_size, seed):
  """Indices of training batch ``step``: a fresh permutation per epoch, from (seed, epoch).

  The data position is the step number, so a resumed run reads the same batches.
  """
  per_epoch = num_examples // batch_size
  if per_epoch == 0:
    raise DataError(f"train.batch_size {batch_size} exceeds the {num_examples} training examples")
  epoch, j = divmod(int(step), per_epoch)
  perm = np.random.default_rng([seed, epoch]).permutation(num_examples)
  return perm[j * batch_size:(j + 1) * batch_size]


def get_batch(images, labels, step, batch_size, seed, random_flip=False):
  """Training batch ``step`` as {'image', 'label'}; flips are deterministic in (seed, step)."""
  idx = batch_indices(step, len(images), batch_size, seed)
  x = images[idx]
  if random_flip:
    flip = np.random.default_rng([seed, int(step), 1]).random(batch_size) < 0.5
    x = np.where(flip[:, None, None, None], x[:, :, ::-1], x)
  return {"image": x, "label": labels[idx]}


def toy_gaussian_mixture(rng, n, means, std):
  """n points of an equal-weight mixture of isotropic Gaussians in 2-D, with their labels."""
  means = np.asarray(means, np.float32)
  k = rng.integers(0, len(means), n)
  return (means[k] + std * rng.standard_normal((n, means.shape[1]))).astype(np.float32), k


def grid_25_gaussians(rng, n, std=0.05):
  """The 25-Gaussians grid: means on {-4, -2, 0, 2, 4}^2 (DD-GAN, Figure 6)."""
  g = np.arange(-4, 5, 2, dtype=np.float32)
  means = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
  return toy_gaussian_mixture(rng, n, means, std)


def stacked_mnist(images, labels, n, seed):
  """n StackedMNIST images from single-channel digits: three random digits (with
  replacement) stacked as R, G, B; label 100 d_R + 10 d_G + d_B."""
  idx = np.random.default_rng(seed).integers(0, len(images), (n, 3))
  stacked = np.concatenate([images[idx[:, c]] for c in range(3)], axis=-1)
  digits = labels[idx]
  return stacked, (100 * digits[:, 0] + 10 * digits[:, 1] + digits[:, 2]).astype(np.int32)
