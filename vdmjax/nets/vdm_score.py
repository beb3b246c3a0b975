"""VDM's score network (google-research/vdm ``ScoreUNet``): eps-prediction at full resolution.

A stack of ``n_layer`` ResNet blocks with no downsampling, a middle of ResNet-attention-ResNet,
and an up stack of ``n_layer + 1`` blocks that each take the matching down activation
concatenated on channels; the output conv is zero-initialised and the prediction is
``conv(h) + z`` (VDM's "base measure"), so eps_hat = z at initialisation.

Both stacks can run as ``nn.scan`` over one set of stacked parameters: the same function as the
unrolled stack, compiled once instead of n_layer times. ``remat`` recomputes each block's
activations in the backward pass (scanned or unrolled) instead of storing them.
On XLA:CPU the kernel gradients of convolutions inside a loop take a slow path (jax-ml/jax#12868),
so a stack scanned on CPU computes its 3x3 convs with ``LoopConv`` in the training step
(``conv`` 'auto': XLA's convolution with gradients written as canonical forward convolutions;
benchmarks/scan_vs_unrolled.py records the three variants). 'auto' still unrolls on CPU, where
the unrolled step is as fast or faster, and scans on accelerators.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vdmjax.nets.fourier import append_fourier_features
from vdmjax.nets.layers import MultiHeadAttention, conv_class, group_norm, timestep_embedding

zeros = nn.initializers.zeros


class VDMResBlock(nn.Module):
  """VDM's ResnetBlock: GN-swish-conv, + Dense(cond), GN-swish-dropout-conv(zero init), skip.
  ``conv`` 'xla' (nn.Conv) or 'loop' (LoopConv: same parameters)."""
  out_ch: int
  dropout: float = 0.1
  dtype: Any = jnp.float32
  conv: str = "xla"

  @nn.compact
  def __call__(self, x, cond, train):
    Conv = conv_class(self.conv, "model.score.conv")
    h = Conv(self.out_ch, (3, 3), dtype=self.dtype, name="conv_0")(
        nn.swish(group_norm(x, dtype=self.dtype)))
    h = h + nn.Dense(self.out_ch, use_bias=False, kernel_init=zeros, dtype=self.dtype,
                     name="cond_proj")(cond)[:, None, None, :]
    h = nn.Dropout(self.dropout, deterministic=not train)(nn.swish(group_norm(h, dtype=self.dtype)))
    h = Conv(self.out_ch, (3, 3), kernel_init=zeros, dtype=self.dtype, name="conv_1")(h)
    if x.shape[-1] != self.out_ch:
      x = nn.Dense(self.out_ch, dtype=self.dtype, name="nin_shortcut")(x)
    return x + h


class _ScanDown(nn.Module):
  out_ch: int
  dropout: float
  dtype: Any
  conv: str

  @nn.compact
  def __call__(self, h, cond, train):
    h = VDMResBlock(self.out_ch, self.dropout, self.dtype, self.conv, name="block")(h, cond, train)
    return h, h


class _ScanUp(nn.Module):
  out_ch: int
  dropout: float
  dtype: Any
  conv: str

  @nn.compact
  def __call__(self, h, skip, cond, train):
    h = VDMResBlock(self.out_ch, self.dropout, self.dtype, self.conv, name="block")(
        jnp.concatenate([h, skip], axis=-1), cond, train)
    return h, None


def resolve_scan(scan_blocks):
  """'auto' -> scan on GPU/TPU, unrolled on CPU (faster there on small networks);
  True / False, or 'true' / 'false' (a string config field overridden from the command line)."""
  if isinstance(scan_blocks, str):
    if scan_blocks.lower() not in ("auto", "true", "false"):
      raise ValueError(f"model.score.scan_blocks {scan_blocks!r} is not True, False or 'auto'")
    if scan_blocks.lower() == "auto":
      return jax.default_backend() != "cpu"
    return scan_blocks.lower() == "true"
  return bool(scan_blocks)


def resolve_conv(conv, scanned, train):
  """'auto' -> 'loop' in the training step of a stack scanned on CPU, else XLA's convolution.

  Only there: LoopConv's gradients are reverse-mode only (a custom VJP), and the ODE likelihood
  takes forward-mode derivatives of the network in eval mode."""
  if conv == "auto":
    return "loop" if scanned and train and jax.default_backend() == "cpu" else "xla"
  conv_class(conv, "model.score.conv")
  return conv


class VDMScoreNet(nn.Module):
  """eps_hat(z_t, gamma_t[, label]) for images z_t (B, H, W, C)."""
  n_embd: int = 128
  n_layer: int = 32
  dropout: float = 0.1
  with_attention: bool = False
  gamma_min: float = -13.3
  gamma_max: float = 5.0
  fourier: bool = True
  fourier_n_min: int = 7
  fourier_n_max: int = 8
  num_classes: int = 0          # > 0: class-conditional with null label id = num_classes
  scan_blocks: Any = "auto"     # True, False or 'auto'
  scan_unroll: int = 1          # blocks per iteration of a scanned stack
  conv: str = "auto"            # the blocks' 3x3 convs: 'xla', 'loop' or 'auto'
  remat: bool = False
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, z, gamma, labels=None, train=False):
    b = z.shape[0]
    # VDM feeds the schedule-normalised gamma, scaled to DDPM's [0, 1000] timestep range.
    t = (gamma - self.gamma_min) / (self.gamma_max - self.gamma_min)
    temb = timestep_embedding(t * 1000.0, self.n_embd)
    temb = nn.swish(nn.Dense(4 * self.n_embd, dtype=self.dtype, name="temb_0")(temb))
    temb = nn.swish(nn.Dense(4 * self.n_embd, dtype=self.dtype, name="temb_1")(temb))
    if self.num_classes > 0:
      if labels is None:
        labels = jnp.full((b,), self.num_classes, jnp.int32)
      temb = temb + nn.Embed(self.num_classes + 1, 4 * self.n_embd, name="label_emb")(labels)
    cond = temb.astype(self.dtype)

    h = append_fourier_features(z, self.fourier_n_min, self.fourier_n_max, self.fourier)
    h = nn.Conv(self.n_embd, (3, 3), dtype=self.dtype, name="conv_in")(h.astype(self.dtype))

    scanned = resolve_scan(self.scan_blocks)
    conv = resolve_conv(self.conv, scanned, train)
    if scanned:
      down, up = _ScanDown, _ScanUp
      if self.remat:
        down = nn.remat(down, static_argnums=(3,))
        up = nn.remat(up, static_argnums=(4,))
      if not (isinstance(self.scan_unroll, int) and self.scan_unroll >= 1):
        raise ValueError(f"model.score.scan_unroll {self.scan_unroll!r} is not an integer >= 1")
      scan_kw = dict(variable_axes={"params": 0}, split_rngs={"params": True, "dropout": True},
                     in_axes=(nn.broadcast, nn.broadcast), unroll=self.scan_unroll)
      h0 = h
      h, hs = nn.scan(down, length=self.n_layer, **scan_kw)(
          self.n_embd, self.dropout, self.dtype, conv, name="down")(h, cond, train)
      skips = jnp.concatenate([h0[None], hs], axis=0)[::-1]
    else:
      block = nn.remat(VDMResBlock, static_argnums=(3,)) if self.remat else VDMResBlock
      skips = [h]
      for i in range(self.n_layer):
        h = block(self.n_embd, self.dropout, self.dtype, conv, name=f"down_{i}")(
            h, cond, train)
        skips.append(h)

    h = VDMResBlock(self.n_embd, self.dropout, self.dtype, name="mid_0")(h, cond, train)
    if self.with_attention:
      h = MultiHeadAttention(num_heads=1, dtype=self.dtype, name="mid_attn")(h)
    h = VDMResBlock(self.n_embd, self.dropout, self.dtype, name="mid_1")(h, cond, train)

    if scanned:
      scan_kw = dict(variable_axes={"params": 0}, split_rngs={"params": True, "dropout": True},
                     in_axes=(0, nn.broadcast, nn.broadcast), unroll=self.scan_unroll)
      h, _ = nn.scan(up, length=self.n_layer + 1, **scan_kw)(
          self.n_embd, self.dropout, self.dtype, conv, name="up")(h, skips, cond, train)
    else:
      for i in range(self.n_layer + 1):
        h = block(self.n_embd, self.dropout, self.dtype, conv, name=f"up_{i}")(
            jnp.concatenate([h, skips.pop()], axis=-1), cond, train)

    h = nn.swish(group_norm(h, dtype=self.dtype))
    h = nn.Conv(z.shape[-1], (3, 3), kernel_init=zeros, dtype=self.dtype, name="conv_out")(h)
    return (h.astype(jnp.float32) + z)


def stack_unrolled_params(params, n_layer):
  """Convert parameters of the unrolled network into the scanned network's layout."""
  params = dict(params)
  down = [params.pop(f"down_{i}") for i in range(n_layer)]
  up = [params.pop(f"up_{i}") for i in range(n_layer + 1)]
  stack = lambda blocks: {"block": jax.tree.map(lambda *a: jnp.stack(a), *blocks)}
  params["down"], params["up"] = stack(down), stack(up)
  return params
