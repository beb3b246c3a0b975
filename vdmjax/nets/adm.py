"""ADM's U-Net (Dhariwal & Nichol 2021; guided-diffusion ``UNetModel``) and its encoder half.

Channel multipliers, ``num_res_blocks`` per level, multi-head attention at chosen resolutions,
scale-shift norm (AdaGN), BigGAN up/down residual blocks, dropout, a noise-level embedding, a
class embedding with a null label (id = num_classes) for classifier-free guidance, an optional
learned-variance output (2C channels) and eps / x / v prediction (``prediction`` only names the
output; the objective interprets it).
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from vdmjax.nets.layers import (MultiHeadAttention, ResBlock, conv_class, downsample,
                                group_norm, noise_level_embedding, upsample)

zeros = nn.initializers.zeros


class _Encoder(nn.Module):
  """Input blocks and middle block of the ADM U-Net; returns (h, skips)."""
  model_channels: int
  channel_mult: Sequence[int]
  num_res_blocks: int
  attention_resolutions: Sequence[int]
  num_heads: int
  num_head_channels: int
  dropout: float
  scale_shift: bool
  resblock_updown: bool
  dtype: Any
  conv: str = "xla"

  @nn.compact
  def __call__(self, x, emb, train, style=None):
    image_size = x.shape[1]
    attn = lambda: MultiHeadAttention(self.num_heads, self.num_head_channels, self.dtype)
    h = conv_class(self.conv, "conv")(self.model_channels, (3, 3), dtype=self.dtype,
                                       name="conv_in")(x)
    skips, ds = [h], 1
    for level, mult in enumerate(self.channel_mult):
      for _ in range(self.num_res_blocks):
        h = ResBlock(mult * self.model_channels, self.dropout, self.scale_shift,
                     dtype=self.dtype, conv=self.conv)(h, emb, train, style)
        if image_size // ds in self.attention_resolutions:
          h = attn()(h)
        skips.append(h)
      if level != len(self.channel_mult) - 1:
        if self.resblock_updown:
          h = ResBlock(h.shape[-1], self.dropout, self.scale_shift, down=True,
                       dtype=self.dtype, conv=self.conv)(h, emb, train, style)
        else:
          h = downsample(h, True, self.dtype)
        skips.append(h)
        ds *= 2
    h = ResBlock(h.shape[-1], self.dropout, self.scale_shift, dtype=self.dtype,
                 conv=self.conv)(h, emb, train, style)
    h = attn()(h)
    h = ResBlock(h.shape[-1], self.dropout, self.scale_shift, dtype=self.dtype,
                 conv=self.conv)(h, emb, train, style)
    return h, skips


class ADMUNet(nn.Module):
  """guided-diffusion's UNetModel: ``__call__(x_t, noise_cond, labels=None, train=False)``.

  ``noise_cond`` is the per-example scalar that is embedded: DDPM's integer timestep, or, with
  ``gamma_range`` = (gamma_min, gamma_max) for continuous time, gamma_t, embedded as
  1000 (gamma - gamma_min) / (gamma_max - gamma_min) like VDM's score network.
  Output: C channels, or 2C with ``learn_sigma`` (eps then the variance value).
  """
  model_channels: int = 128
  out_channels: int = 3
  channel_mult: Sequence[int] = (1, 2, 2, 2)
  num_res_blocks: int = 2
  attention_resolutions: Sequence[int] = (16,)
  num_heads: int = 4
  num_head_channels: int = -1
  dropout: float = 0.0
  scale_shift: bool = True
  resblock_updown: bool = True
  num_classes: int = 0
  learn_sigma: bool = False
  prediction: str = "eps"
  gamma_range: Sequence[float] = ()
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, noise_cond, labels=None, train=False, style=None):
    if self.gamma_range:
      gamma_min, gamma_max = self.gamma_range
      noise_cond = 1000.0 * (noise_cond - gamma_min) / (gamma_max - gamma_min)
    b, size = x.shape[0], x.shape[1]
    levels = len(self.channel_mult)
    if x.shape[1] != x.shape[2] or size % (2 ** (levels - 1)):
      raise ValueError(f"image size {x.shape[1]}x{x.shape[2]} does not fit a U-Net of "
                       f"{levels} levels (needs a square side divisible by {2 ** (levels - 1)})")
    emb = noise_level_embedding(noise_cond, self.model_channels, self.dtype)
    if self.num_classes > 0:
      if labels is None:
        labels = jnp.full((b,), self.num_classes, jnp.int32)
      emb = emb + nn.Embed(self.num_classes + 1, emb.shape[-1], name="label_emb")(labels)
    h, skips = _Encoder(self.model_channels, self.channel_mult, self.num_res_blocks,
                        self.attention_resolutions, self.num_heads, self.num_head_channels,
                        self.dropout, self.scale_shift, self.resblock_updown, self.dtype,
                        name="encoder")(x.astype(self.dtype), emb, train, style)
    ds = 2 ** (levels - 1)
    for level, mult in list(enumerate(self.channel_mult))[::-1]:
      for i in range(self.num_res_blocks + 1):
        h = ResBlock(mult * self.model_channels, self.dropout, self.scale_shift,
                     dtype=self.dtype)(jnp.concatenate([h, skips.pop()], -1), emb, train, style)
        if size // ds in self.attention_resolutions:
          h = MultiHeadAttention(self.num_heads, self.num_head_channels, self.dtype)(h)
        if level and i == self.num_res_blocks:
          if self.resblock_updown:
            h = ResBlock(h.shape[-1], self.dropout, self.scale_shift, up=True,
                         dtype=self.dtype)(h, emb, train, style)
          else:
            h = upsample(h, True, self.dtype)
          ds //= 2
    h = nn.silu(group_norm(h, dtype=self.dtype))
    out_ch = self.out_channels * (2 if self.learn_sigma else 1)
    h = nn.Conv(out_ch, (3, 3), padding=1, kernel_init=zeros, dtype=self.dtype,
                name="conv_out")(h)
    return h.astype(jnp.float32)


class AttentionPool(nn.Module):
  """CLIP-style attention pooling (guided-diffusion's AttentionPool2d) to ``out_dim`` logits."""
  num_head_channels: int
  out_dim: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    b, h, w, c = x.shape
    x = x.reshape(b, h * w, c)
    x = jnp.concatenate([x.mean(axis=1, keepdims=True), x], axis=1)
    pos = self.param("pos_emb", nn.initializers.normal(c ** -0.5), (h * w + 1, c))
    x = x + pos.astype(x.dtype)
    heads = max(c // self.num_head_channels, 1)
    qkv = nn.Dense(3 * c, dtype=self.dtype, name="qkv")(x)
    q, k, v = jnp.split(qkv.reshape(b, h * w + 1, heads, 3 * (c // heads)), 3, axis=-1)
    y = nn.dot_product_attention(q[:, :1], k, v, dtype=self.dtype).reshape(b, c)
    return nn.Dense(self.out_dim, dtype=self.dtype, name="proj")(y)


class NoiseAwareClassifier(nn.Module):
  """ADM's classifier (EncoderUNetModel, pool='attention'): logits of p(c | z_t, noise level).

  ``conv`` 'auto' computes the 3x3 convs with LoopConv on CPU: classifier guidance takes the
  classifier's input gradient inside the sampler's lax.scan, where XLA:CPU's own convolution
  gradients are slow (3.5x at the MNIST config); XLA's convolution on accelerators."""
  num_classes: int = 10
  model_channels: int = 128
  channel_mult: Sequence[int] = (1, 2, 4, 4)
  num_res_blocks: int = 2
  attention_resolutions: Sequence[int] = (16, 8)
  num_head_channels: int = 64
  dropout: float = 0.0
  scale_shift: bool = True
  resblock_updown: bool = True
  dtype: Any = jnp.float32
  conv: str = "auto"            # 'xla', 'loop' or 'auto'

  @nn.compact
  def __call__(self, x, noise_cond, train=False):
    conv = self.conv
    if conv == "auto":
      conv = "loop" if jax.default_backend() == "cpu" else "xla"
    conv_class(conv, "model.classifier.conv")
    emb = noise_level_embedding(noise_cond, self.model_channels, self.dtype)
    h, _ = _Encoder(self.model_channels, self.channel_mult, self.num_res_blocks,
                    self.attention_resolutions, 1, self.num_head_channels, self.dropout,
                    self.scale_shift, self.resblock_updown, self.dtype, conv,
                    name="encoder")(x.astype(self.dtype), emb, train)
    h = nn.silu(group_norm(h, dtype=self.dtype))
    return AttentionPool(self.num_head_channels, self.num_classes, self.dtype)(h).astype(
        jnp.float32)
