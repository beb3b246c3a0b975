"""DD-GAN players (Xiao et al. 2022; NVlabs/denoising-diffusion-gan).

Generator: the ADM U-Net predicting x_0 from (x_{t+1}, t, z), with the latent z (nz = 100)
mapped by PixelNorm and an MLP to a style vector that modulates every GroupNorm (adaptive group
norm), and a tanh output. Discriminator: the repository's ``Discriminator_small``:
D(x_t, x_{t+1}, t) on the two inputs concatenated on channels, a time embedding added in every
downsampling ResNet block, minibatch standard deviation, a final conv and a linear layer.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vdmjax.nets.adm import ADMUNet
from vdmjax.nets.layers import timestep_embedding


class DDGANGenerator(nn.Module):
  """x_0 = G(x_{t+1}, z, t); t is the integer step index of the T-step chain."""
  nz: int = 100
  z_emb_dim: int = 256
  n_mlp: int = 4
  model_channels: int = 128
  out_channels: int = 3
  channel_mult: Sequence[int] = (1, 2, 2, 2)
  num_res_blocks: int = 2
  attention_resolutions: Sequence[int] = (16,)
  dropout: float = 0.0
  use_tanh: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x_tp1, t, z, train=False):
    style = z * (jnp.mean(z**2, axis=-1, keepdims=True) + 1e-8) ** -0.5   # PixelNorm
    style = nn.swish(nn.Dense(self.z_emb_dim, dtype=self.dtype, name="map_in")(style))
    for i in range(self.n_mlp):
      style = nn.swish(nn.Dense(self.z_emb_dim, dtype=self.dtype, name=f"map_{i}")(style))
    h = ADMUNet(self.model_channels, self.out_channels, self.channel_mult, self.num_res_blocks,
                self.attention_resolutions, num_heads=1, dropout=self.dropout,
                resblock_updown=True, dtype=self.dtype, name="unet")(
                    x_tp1, t, train=train, style=style)
    return jnp.tanh(h) if self.use_tanh else h


class _DownConvBlock(nn.Module):
  out_ch: int
  downsample: bool
  dtype: Any

  @nn.compact
  def __call__(self, x, t_emb):
    act = lambda v: nn.leaky_relu(v, 0.2)
    h = nn.Conv(self.out_ch, (3, 3), padding=1, dtype=self.dtype, name="conv1")(act(x))
    h = act(h + nn.Dense(self.out_ch, dtype=self.dtype, name="dense_t1")(t_emb)[:, None, None])
    if self.downsample:
      h = nn.avg_pool(h, (2, 2), (2, 2))
      x = nn.avg_pool(x, (2, 2), (2, 2))
    h = nn.Conv(self.out_ch, (3, 3), padding=1, dtype=self.dtype, name="conv2")(h)
    skip = nn.Conv(self.out_ch, (1, 1), use_bias=False, dtype=self.dtype, name="skip")(x)
    return (h + skip) / math.sqrt(2.0)


def minibatch_stddev(x, group_size=4, num_features=1):
  """StyleGAN2's minibatch standard deviation, appended as ``num_features`` channels."""
  b, h, w, c = x.shape
  g = math.gcd(b, group_size)
  y = x.reshape(g, b // g, h, w, num_features, c // num_features)
  y = jnp.sqrt(jnp.var(y, axis=0) + 1e-8).mean(axis=(1, 2, 4))        # (b/g, F)
  y = jnp.tile(y[None, :, None, None, :], (g, 1, h, w, 1)).reshape(b, h, w, num_features)
  return jnp.concatenate([x, y], axis=-1)


class DDGANDiscriminator(nn.Module):
  """D(x_t, x_{t+1}, t) -> one logit per example (Discriminator_small)."""
  ngf: int = 64
  t_emb_dim: int = 128
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x_t, x_tp1, t):
    act = lambda v: nn.leaky_relu(v, 0.2)
    t_emb = nn.Dense(self.t_emb_dim, name="t_embed_0")(timestep_embedding(t, self.t_emb_dim))
    t_emb = act(nn.Dense(self.t_emb_dim, name="t_embed_1")(act(t_emb)))
    h = nn.Conv(2 * self.ngf, (1, 1), dtype=self.dtype, name="start_conv")(
        jnp.concatenate([x_t, x_tp1], axis=-1).astype(self.dtype))
    for i, (ch, down) in enumerate([(2, False), (4, True), (8, True), (8, True)]):
      h = _DownConvBlock(ch * self.ngf, down, self.dtype, name=f"down_{i}")(h, t_emb)
    h = minibatch_stddev(h)
    h = act(nn.Conv(8 * self.ngf, (3, 3), padding=1, dtype=self.dtype, name="final_conv")(h))
    h = h.astype(jnp.float32).sum(axis=(1, 2))
    return nn.Dense(1, name="end_linear")(h)[:, 0]


class _ToyTrunk(nn.Module):
  """An MLP on [inputs, embedding of the step index]: the 2-D players' shared body."""
  hidden: int
  depth: int
  t_emb_dim: int

  @nn.compact
  def __call__(self, h, t):
    t_emb = timestep_embedding(t, self.t_emb_dim, max_period=100.0)
    h = jnp.concatenate([h, t_emb], axis=-1)
    for i in range(self.depth):
      h = nn.leaky_relu(nn.Dense(self.hidden, name=f"dense_{i}")(h), 0.2)
    return h


class DDGANToyGenerator(nn.Module):
  """x_0 = G(x_{t+1}, z, t) for points in R^d (the 2-D experiments): an MLP, no tanh, so the
  output range is the data's."""
  out_dim: int = 2
  nz: int = 2
  hidden: int = 256
  depth: int = 3
  t_emb_dim: int = 32

  @nn.compact
  def __call__(self, x_tp1, t, z, train=False):
    h = _ToyTrunk(self.hidden, self.depth, self.t_emb_dim, name="trunk")(
        jnp.concatenate([x_tp1, z], axis=-1), t)
    return nn.Dense(self.out_dim, name="out")(h)


class DDGANToyDiscriminator(nn.Module):
  """D(x_t, x_{t+1}, t) -> one logit per example, for points in R^d."""
  hidden: int = 256
  depth: int = 3
  t_emb_dim: int = 32

  @nn.compact
  def __call__(self, x_t, x_tp1, t):
    h = _ToyTrunk(self.hidden, self.depth, self.t_emb_dim, name="trunk")(
        jnp.concatenate([x_t, x_tp1], axis=-1), t)
    return nn.Dense(1, name="out")(h)[:, 0]
