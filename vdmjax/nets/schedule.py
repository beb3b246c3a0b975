"""Noise schedules as modules returning gamma(t); gamma'(t) comes from autodiff.

'fixed' (linear or cosine between the configured end points), 'learnable_scalar' (linear
with learnable end points) and 'learnable_nnet' (VDM's monotonic network, Appendix H):
dense layers with non-negative weights and a sigmoid hidden layer, rescaled so that
gamma(0) and gamma(1) are the learnable end points. Every schedule is increasing in t for
every parameter value.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vdmjax.core import schedules

ENDPOINT_PARAMS = ("gamma_0", "gamma_span")   # the leaves that set gamma(0) and gamma(1)


def _inverse_softplus(y):
  return float(np.log(np.expm1(y)))


class _Endpoints(nn.Module):
  gamma_min: float
  gamma_max: float

  @nn.compact
  def __call__(self):
    if not self.gamma_min < self.gamma_max:
      raise ValueError(f"schedule: gamma_min ({self.gamma_min}) must be below gamma_max "
                       f"({self.gamma_max})")
    g0 = self.param("gamma_0", nn.initializers.constant(self.gamma_min), ())
    span = self.param("gamma_span", nn.initializers.constant(
        _inverse_softplus(self.gamma_max - self.gamma_min)), ())
    return g0, g0 + jax.nn.softplus(span)


class DenseMonotone(nn.Module):
  """Dense layer with |kernel|: non-decreasing in every input."""
  features: int
  kernel_init: nn.initializers.Initializer = nn.initializers.normal()
  use_bias: bool = True

  @nn.compact
  def __call__(self, x):
    kernel = self.param("kernel", self.kernel_init, (x.shape[-1], self.features))
    y = x @ jnp.abs(kernel)
    if self.use_bias:
      y = y + self.param("bias", nn.initializers.zeros, (self.features,))
    return y


class NoiseSchedule(nn.Module):
  """gamma(t) for t of any shape; ``kind`` in 'fixed', 'learnable_scalar', 'learnable_nnet'."""
  kind: str = "learnable_nnet"
  gamma_min: float = -13.3
  gamma_max: float = 5.0
  fixed_shape: str = "linear"   # 'linear' or 'cosine' for kind='fixed'
  n_features: int = 1024

  @nn.compact
  def __call__(self, t):
    t = jnp.asarray(t, jnp.float32)
    if self.kind == "fixed":
      if not self.gamma_min < self.gamma_max:
        raise ValueError(f"schedule: gamma_min ({self.gamma_min}) must be below gamma_max "
                         f"({self.gamma_max})")
      if self.fixed_shape == "linear":
        return schedules.linear_gamma(t, self.gamma_min, self.gamma_max)
      if self.fixed_shape == "cosine":
        return schedules.cosine_gamma(t, gamma_min=self.gamma_min, gamma_max=self.gamma_max)
      raise ValueError(f"schedule.fixed_shape {self.fixed_shape!r} is not 'linear' or 'cosine'")
    g0, g1 = _Endpoints(self.gamma_min, self.gamma_max, name="ends")()
    if self.kind == "learnable_scalar":
      return g0 + (g1 - g0) * t
    if self.kind == "learnable_nnet":
      h = self._nnet(jnp.stack([jnp.zeros_like(t), jnp.ones_like(t), t]))
      h0, h1, ht = h[0], h[1], h[2]
      return g0 + (g1 - g0) * (ht - h0) / (h1 - h0)
    raise ValueError(f"schedule.kind {self.kind!r} is not one of "
                     "'fixed', 'learnable_scalar', 'learnable_nnet'")

  def _nnet(self, t):
    """VDM's NoiseSchedule_NNet: a linear term plus a positive sigmoid-feature term."""
    x = t[..., None]
    # no bias: the rescaling to the end points removes any constant offset
    lin = DenseMonotone(1, nn.initializers.constant(1.0), use_bias=False, name="l1")(x)
    h = DenseMonotone(self.n_features, name="l2")(2.0 * (x - 0.5))
    h = 2.0 * (jax.nn.sigmoid(h) - 0.5)
    h = DenseMonotone(1, use_bias=False, name="l3")(h) / self.n_features
    # the linear term keeps the map strictly increasing even where the sigmoids saturate
    return (lin + h)[..., 0] + 1e-3 * t
