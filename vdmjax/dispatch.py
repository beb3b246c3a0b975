"""Keeping the device busy across a host loop of jitted calls."""

from __future__ import annotations

import jax


def fetched_one_behind(device_results):
  """Host copies of an iterator of dispatched device results, each fetched after the next one
  is dispatched: the device starts the next call while the host waits for and copies this one
  (fetching each before dispatching the next leaves the device idle for every dispatch)."""
  pending = None
  for out in device_results:
    if pending is not None:
      yield jax.device_get(pending)
    pending = out
  if pending is not None:
    yield jax.device_get(pending)
