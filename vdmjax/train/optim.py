"""Optimizer and EMA from the config's ``optim`` block."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

OPTIMIZERS = ("adamw", "adam")


def learning_rate(cfg, num_steps, peak=None):
  """Linear warm-up to ``peak`` (default ``cfg.lr``), then constant or cosine decay over the
  run to ``cfg.lr_min`` (default 0; torch's CosineAnnealingLR eta_min)."""
  peak = cfg.lr if peak is None else peak
  warmup = optax.linear_schedule(0.0, peak, max(int(cfg.warmup_steps), 1))
  if cfg.get("decay", "constant") == "cosine":
    after = optax.cosine_decay_schedule(peak, max(num_steps - int(cfg.warmup_steps), 1),
                                        alpha=cfg.get("lr_min", 0.0) / peak if peak else 0.0)
  else:
    after = optax.constant_schedule(peak)
  return optax.join_schedules([warmup, after], [int(cfg.warmup_steps)])


def make_optimizer(cfg, num_steps, peak=None):
  """optax chain: global-norm clipping, then Adam(W) on the warm-up schedule (peak learning
  rate ``peak``, default ``cfg.lr``)."""
  if cfg.name not in OPTIMIZERS:
    raise ValueError(f"optim.name {cfg.name!r} is not one of {OPTIMIZERS}")
  lr = learning_rate(cfg, num_steps, peak)
  if cfg.name == "adamw":
    opt = optax.adamw(lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps, weight_decay=cfg.weight_decay)
  else:
    opt = optax.adam(lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps)
  chain = [optax.clip_by_global_norm(cfg.grad_clip_norm)] if cfg.grad_clip_norm > 0 else []
  return optax.chain(*chain, opt), lr


def ema_decay_at(step, decay):
  """EMA decay with warm-up, min(decay, (1 + n) / (10 + n)) after n updates, so that the
  average forgets the initial parameters early in a run (as TF's ExponentialMovingAverage)."""
  n = jnp.asarray(step, jnp.float32)
  return jnp.minimum(decay, (1.0 + n) / (10.0 + n))


def ema_update(ema, params, decay, step):
  d = ema_decay_at(step, decay)
  return jax.tree.map(lambda e, p: d * e + (1.0 - d) * p, ema, params)


def all_finite(tree):
  return jnp.all(jnp.array([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))
