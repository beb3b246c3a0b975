"""Shared kill-and-resume check: an interrupted run continues the uninterrupted trajectory."""

import jax
import numpy as np

from vdmjax.train.loop import Experiment


def full_and_resumed(get_config, tmp_path, cut=3):
  """Train one run straight through and one stopped at ``cut`` then resumed; assert their
  whole train states (params, optimizer, EMA, PRNG key, objective state) are bit-identical."""
  full = Experiment(get_config(), str(tmp_path / "full"))
  full.train()
  c = get_config()
  c.train.num_steps = cut
  Experiment(c, str(tmp_path / "cut")).train()
  resumed = Experiment(get_config(), str(tmp_path / "cut"))
  resumed.train()
  for a, b in zip(jax.tree.leaves(jax.device_get(full.state)),
                  jax.tree.leaves(jax.device_get(resumed.state))):
    np.testing.assert_array_equal(a, b)
  return full, resumed
