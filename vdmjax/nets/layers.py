"""Building blocks shared by the U-Nets: embeddings, normalisation, attention, resampling."""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

Dtype = Any
zeros = nn.initializers.zeros


def timestep_embedding(x, dim, max_period=10000.0):
  """Sinusoidal embedding of a per-example scalar (Vaswani et al.; DDPM / ADM's form)."""
  half = dim // 2
  freqs = jnp.exp(-math.log(max_period) * jnp.arange(half, dtype=jnp.float32) / half)
  args = jnp.asarray(x, jnp.float32)[:, None] * freqs[None]
  emb = jnp.concatenate([jnp.cos(args), jnp.sin(args)], axis=-1)
  if dim % 2:
    emb = jnp.pad(emb, ((0, 0), (0, 1)))
  return emb


_NHWC = ("NHWC", "HWIO", "NHWC")


def _same_padding(kernel_size):
  if any(k % 2 == 0 for k in kernel_size):
    raise ValueError(f"conv_same (LoopConv): kernel size {tuple(kernel_size)} is not odd")
  return tuple((k // 2, k // 2) for k in kernel_size)


def _conv(x, kernel, padding):
  return jax.lax.conv_general_dilated(x, kernel, (1, 1), padding, dimension_numbers=_NHWC)


@jax.custom_vjp
def conv_same(x, kernel):
  """Stride-1 'SAME' convolution of NHWC ``x`` with an HWIO ``kernel`` of odd sizes.

  The same value as XLA's convolution; its gradients are written as forward convolutions in
  the canonical NHWC / HWIO layout (the input gradient: the flipped, transposed kernel over the
  cotangent; the kernel gradient: the input with batch and channels swapped, convolved with
  the cotangent as kernel). XLA:CPU runs the gradients it derives itself on a slow path inside
  a loop body (lax.scan, nn.scan: jax-ml/jax#12868; the kernel gradient 34x slower than outside
  one at 128 channels); these forward convolutions run nearly as fast inside a loop as outside
  (benchmarks/conv_in_loop.py). Reverse mode only: a custom VJP has no forward-mode derivative.
  """
  return _conv(x, kernel, _same_padding(kernel.shape[:2]))


def _conv_same_fwd(x, kernel):
  return conv_same(x, kernel), (x, kernel)


def _conv_same_bwd(res, dy):
  x, kernel = res
  padding = _same_padding(kernel.shape[:2])
  dx = _conv(dy, jnp.flip(kernel, (0, 1)).swapaxes(2, 3), padding)
  # dk[i, j, c, o] = sum_{b,h,w} x_pad[b, h + i, w + j, c] dy[b, h, w, o]: a 'VALID'-sized
  # convolution of x (channels as batch, batch as channels) by dy (batch as input channels).
  dk = _conv(x.transpose(3, 1, 2, 0), dy.transpose(1, 2, 0, 3), padding)
  return dx, dk.transpose(1, 2, 0, 3).astype(kernel.dtype)


conv_same.defvjp(_conv_same_fwd, _conv_same_bwd)


class LoopConv(nn.Module):
  """nn.Conv (stride 1, 'SAME', odd kernel sizes, the same 'kernel' HWIO and 'bias' parameters)
  computed with ``conv_same``: gradients that stay fast inside loops on XLA:CPU."""
  features: int
  kernel_size: tuple = (3, 3)
  kernel_init: Any = nn.linear.default_kernel_init
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    kernel = self.param("kernel", self.kernel_init,
                        tuple(self.kernel_size) + (x.shape[-1], self.features))
    bias = self.param("bias", zeros, (self.features,))
    y = conv_same(x.astype(self.dtype), kernel.astype(self.dtype))
    return y + bias.astype(self.dtype)


def conv_class(conv, key):
  """The 3x3 convolution of a block: 'xla' -> nn.Conv, 'loop' -> LoopConv (config ``key``)."""
  if conv not in ("xla", "loop"):
    raise ValueError(f"{key} {conv!r} is not 'auto', 'xla' or 'loop'")
  return LoopConv if conv == "loop" else nn.Conv


def group_norm(x, name=None, num_groups=32, dtype=jnp.float32):
  """GroupNorm with at most 32 groups, computed in float32 (ADM's normalization())."""
  groups = math.gcd(num_groups, x.shape[-1])
  return nn.GroupNorm(num_groups=groups, dtype=jnp.float32, name=name)(x).astype(dtype)


class MultiHeadAttention(nn.Module):
  """Self-attention over the spatial positions with a zero-initialised output projection."""
  num_heads: int = 1
  head_channels: int = -1
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    b, h, w, c = x.shape
    heads = c // self.head_channels if self.head_channels > 0 else self.num_heads
    if c % heads:
      raise ValueError(f"attention: {c} channels do not split into {heads} heads")
    y = group_norm(x, dtype=self.dtype).reshape(b, h * w, c)
    qkv = nn.Dense(3 * c, dtype=self.dtype, name="qkv")(y)
    q, k, v = jnp.split(qkv.reshape(b, h * w, heads, 3 * (c // heads)), 3, axis=-1)
    y = nn.dot_product_attention(q, k, v, dtype=self.dtype).reshape(b, h * w, c)
    y = nn.Dense(c, kernel_init=zeros, dtype=self.dtype, name="proj_out")(y)
    return x + y.reshape(b, h, w, c)


def downsample(x, use_conv, dtype, name=None):
  if use_conv:
    return nn.Conv(x.shape[-1], (3, 3), strides=(2, 2), padding=1, dtype=dtype, name=name)(x)
  return nn.avg_pool(x, (2, 2), (2, 2))


def upsample(x, use_conv, dtype, name=None):
  b, h, w, c = x.shape
  x = jax.image.resize(x, (b, 2 * h, 2 * w, c), "nearest")
  if use_conv:
    x = nn.Conv(c, (3, 3), padding=1, dtype=dtype, name=name)(x)
  return x


class ResBlock(nn.Module):
  """ADM's residual block (guided-diffusion's ResBlock) with optional AdaGN style input.

  Scale-shift norm: GN(h) (1 + scale) + shift from the embedding (AdaGN). ``up`` / ``down``
  make it BigGAN's resampling block. A ``style`` vector (DD-GAN) modulates every GroupNorm
  as in adaptive group norm: GN(h) * (1 + a(style)) + b(style).
  """
  out_ch: int
  dropout: float = 0.0
  scale_shift: bool = True
  up: bool = False
  down: bool = False
  dtype: Dtype = jnp.float32
  conv: str = "xla"             # the two 3x3 convs: 'xla' or 'loop' (conv_class)

  def _norm(self, h, style, name):
    h = group_norm(h, name=name, dtype=self.dtype)
    if style is not None:
      gb = nn.Dense(2 * h.shape[-1], dtype=self.dtype, name=f"{name}_style")(style)
      g, b = jnp.split(gb[:, None, None, :], 2, axis=-1)
      h = h * (1 + g) + b
    return h

  @nn.compact
  def __call__(self, x, emb, train, style=None):
    h = nn.silu(self._norm(x, style, "norm_in"))
    if self.up or self.down:
      resample = upsample if self.up else downsample
      h, x = resample(h, False, self.dtype), resample(x, False, self.dtype)
    Conv = conv_class(self.conv, "conv")
    h = Conv(self.out_ch, (3, 3), dtype=self.dtype, name="conv_in")(h)
    emb_out = nn.Dense(2 * self.out_ch if self.scale_shift else self.out_ch, dtype=self.dtype,
                       name="emb")(nn.silu(emb))[:, None, None, :]
    if self.scale_shift:
      scale, shift = jnp.split(emb_out, 2, axis=-1)
      h = self._norm(h, style, "norm_out") * (1 + scale) + shift
    else:
      h = self._norm(h + emb_out, style, "norm_out")
    h = nn.Dropout(self.dropout, deterministic=not train)(nn.silu(h))
    h = Conv(self.out_ch, (3, 3), kernel_init=zeros, dtype=self.dtype, name="conv_out")(h)
    if x.shape[-1] != self.out_ch:
      x = nn.Conv(self.out_ch, (1, 1), dtype=self.dtype, name="skip")(x)
    return x + h


def noise_level_embedding(noise_cond, ch, dtype, name="time_embed"):
  """Sinusoidal embedding of the noise level followed by ADM's two-layer MLP (4 ch wide)."""
  emb = timestep_embedding(noise_cond, ch)
  emb = nn.Dense(4 * ch, dtype=dtype, name=f"{name}_0")(emb)
  return nn.Dense(4 * ch, dtype=dtype, name=f"{name}_1")(nn.silu(emb))
