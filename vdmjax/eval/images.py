"""Image grids (PNG) and sample archives (.npz)."""

from __future__ import annotations

import math
import os

import numpy as np
from PIL import Image


def to_uint8(x):
  """[-1, 1] floats (or uint8) -> uint8 on the 8-bit grid."""
  x = np.asarray(x)
  if x.dtype == np.uint8:
    return x
  return np.clip(np.round((x + 1.0) * 127.5), 0, 255).astype(np.uint8)


def save_grid(images, path, ncols=None, pad=2):
  """Write a grid of NHWC images (uint8 or in [-1, 1]) to a PNG; returns the path."""
  x = to_uint8(images)
  n, h, w, c = x.shape
  ncols = ncols or int(math.ceil(math.sqrt(n)))
  nrows = int(math.ceil(n / ncols))
  grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), 255, np.uint8)
  for i in range(n):
    r, col = divmod(i, ncols)
    grid[pad + r * (h + pad): pad + r * (h + pad) + h,
         pad + col * (w + pad): pad + col * (w + pad) + w] = x[i]
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  Image.fromarray(grid[..., 0] if c == 1 else grid).save(path)
  return path


def save_scatter(points, path, size=512, extent=None):
  """Write 2-D points as black dots on white to a PNG (``extent``: half-width of the square
  shown, default the largest |coordinate| + 5%); returns the path."""
  pts = np.asarray(points, np.float64)[:, :2]
  extent = extent or 1.05 * max(float(np.abs(pts).max()), 1e-6)
  pix = np.clip(np.round((pts / extent + 1.0) * 0.5 * (size - 1)), 0, size - 1).astype(int)
  canvas = np.full((size, size), 255, np.uint8)
  canvas[size - 1 - pix[:, 1], pix[:, 0]] = 0
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  Image.fromarray(canvas).save(path)
  return path
