"""Data sources: the embedded MNIST split, deterministic batches, tfds built offline."""

import numpy as np
import pytest

from vdmjax.data import sources


def test_embedded_mnist_split_is_fixed_and_complete():
  x_tr, y_tr = sources.load("mnist_local", "train")
  x_ev, y_ev = sources.load("mnist_local", "eval")
  assert x_tr.shape == (8000, 28, 28, 1) and x_ev.shape == (2000, 28, 28, 1)
  assert x_tr.dtype == np.uint8 and y_tr.dtype == np.int32
  # the README's checks of the shipped file
  counts = np.bincount(np.concatenate([y_tr, y_ev]), minlength=10)
  assert counts.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
  mean = np.concatenate([x_tr, x_ev]).mean()
  assert abs(mean - 33.79) < 0.01
  x2, _ = sources.load("mnist_local", "eval")
  np.testing.assert_array_equal(x_ev, x2)


def test_batches_are_deterministic_and_cover_each_epoch():
  x = np.arange(40, dtype=np.uint8).reshape(40, 1, 1, 1)
  y = np.arange(40, dtype=np.int32)
  epoch = np.concatenate([sources.get_batch(x, y, s, 8, seed=3)["label"] for s in range(5)])
  assert sorted(epoch.tolist()) == list(range(40))
  again = sources.get_batch(x, y, 7, 8, seed=3)
  np.testing.assert_array_equal(again["label"], sources.get_batch(x, y, 7, 8, seed=3)["label"])
  assert not np.array_equal(sources.get_batch(x, y, 0, 8, 3)["label"],
                            sources.get_batch(x, y, 5, 8, 3)["label"])


def test_random_flip_is_deterministic_and_flips_width():
  x = np.arange(16, dtype=np.uint8).reshape(4, 1, 4, 1).repeat(4, axis=0)
  y = np.zeros(16, np.int32)
  b = sources.get_batch(x, y, 0, 16, seed=0, random_flip=True)["image"]
  flipped = [np.array_equal(img[:, ::-1], ref) for img, ref in
             zip(b, x[sources.batch_indices(0, 16, 16, 0)])]
  assert 0 < sum(flipped) < 16


def test_toy_sets():
  rng = np.random.default_rng(0)
  pts, k = sources.grid_25_gaussians(rng, 5000)
  assert pts.shape == (5000, 2) and set(np.unique(k)) == set(range(25))
  means = np.stack([pts[k == i].mean(0) for i in range(25)])
  assert np.all(np.abs(np.round(means) - means) < 0.02)
  assert np.all(np.isin(np.round(means), [-4, -2, 0, 2, 4]))


def test_unknown_and_unprepared_tfds_datasets(tmp_path):
  with pytest.raises(sources.DataError, match="data.name 'no_such_dataset_xyz'"):
    sources.load("no_such_dataset_xyz", "train", str(tmp_path))
  with pytest.raises(sources.DataError, match="not prepared under data.data_dir"):
    sources.load("mnist", "train", str(tmp_path))


def test_tfds_path_on_a_dataset_built_offline_from_local_files(tmp_path):
  import tensorflow_datasets as tfds

  images, labels = sources.load_local_mnist("eval")

  class VdmjaxOfflineDigits(tfds.core.GeneratorBasedBuilder):
    """60 digits from the embedded MNIST files, written as a tfds dataset."""
    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
      return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
          "image": tfds.features.Image(shape=(28, 28, 1)),
          "label": tfds.features.ClassLabel(num_classes=10)}))

    def _split_generators(self, dl_manager):
      return {"train": self._generate_examples(0, 40), "test": self._generate_examples(40, 60)}

    def _generate_examples(self, lo, hi):
      for i in range(lo, hi):
        yield i, {"image": images[i], "label": int(labels[i])}

  VdmjaxOfflineDigits(data_dir=str(tmp_path)).download_and_prepare()
  x, y = sources.load("vdmjax_offline_digits", "train", str(tmp_path))
  assert x.shape == (40, 28, 28, 1) and x.dtype == np.uint8
  # tfds shuffles on write: compare the sets of images
  assert {im.tobytes() for im in x} == {im.tobytes() for im in images[:40]}
  x_ev, _ = sources.load("vdmjax_offline_digits", "eval", str(tmp_path))
  assert x_ev.shape == (20, 28, 28, 1)
