"""Config files: the first layer, read by every other (``get_config()`` of a Python file)."""

from __future__ import annotations

import importlib.util
import os


def load_config_file(path, relative_to=None):
  """``get_config()`` of a config file; ``relative_to`` (a file) resolves a relative path."""
  if relative_to is not None:
    path = os.path.join(os.path.dirname(os.path.abspath(relative_to)), path)
  if not os.path.exists(path):
    raise FileNotFoundError(f"config file {path} not found")
  spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()
