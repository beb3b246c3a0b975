"""Config checks that speak to the user: one line naming the key and the value."""

from __future__ import annotations


REQUIRED = ("seed", "data.name", "train.num_steps", "train.batch_size",
            "train.checkpoint_every", "train.eval_every", "eval.batch_size", "eval.num_examples")
# keys a resumed run may change without invalidating its checkpoints
MUTABLE_PREFIXES = ("train.num_steps", "train.checkpoint_every", "train.eval_every",
                    "train.log_every", "train.keep_checkpoints", "train.async_checkpoints",
                    "train.on_nonfinite", "eval.", "sample.", "data.data_dir")


def _get(config, dotted):
  node = config
  for part in dotted.split("."):
    node = node[part]
  return node


def validate(config):
  for key in REQUIRED:
    try:
      _get(config, key)
    except (KeyError, AttributeError):
      raise ValueError(f"config key {key} is missing") from None
  positive = ("train.num_steps", "train.batch_size", "train.checkpoint_every",
              "eval.batch_size")
  for key in positive:
    if _get(config, key) <= 0:
      raise ValueError(f"{key} must be positive, got {_get(config, key)}")
  if config.get("objective") is not None and config.objective.get("T", 0) < 0:
    raise ValueError(f"objective.T must be >= 0, got {config.objective.T}")
  for block in ("score", "schedule"):
    sub = config.get("model", {}).get(block)
    if sub is not None and "gamma_min" in sub and sub.gamma_min >= sub.gamma_max:
      raise ValueError(f"model.{block}.gamma_min ({sub.gamma_min}) must be below "
                       f"gamma_max ({sub.gamma_max})")


def flatten(tree, prefix=""):
  out = {}
  for k, v in tree.items():
    key = f"{prefix}{k}"
    if isinstance(v, dict):
      out.update(flatten(v, key + "."))
    else:
      out[key] = v
  return out


def check_same_config(saved, current, path):
  a, b = flatten(saved), flatten(current)
  differing = sorted(k for k in set(a) | set(b)
                     if a.get(k) != b.get(k) and not k.startswith(MUTABLE_PREFIXES))
  if differing:
    shown = ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in differing[:6])
    raise ValueError(f"the workdir holds a run of a different config ({path}); differing "
                     f"keys: {shown}")

