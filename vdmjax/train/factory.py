"""Objectives from configs: the only place that knows every method."""

from __future__ import annotations

from vdmjax.nets.build import build
from vdmjax.objectives.vdm import VDMObjective

METHODS = ("vdm",)


def make_objective(config):
  method = config.get("method", "vdm")
  if method == "vdm":
    obj = config.objective
    return VDMObjective(build(config.model.score, "model.score"),
                        build(config.model.schedule, "model.schedule"),
                        T=obj.T, schedule_grad=obj.schedule_grad, weighting=obj.weighting,
                        num_classes=config.model.score.get("num_classes", 0),
                        p_uncond=obj.get("p_uncond", 0.0),
                        antithetic_time=obj.get("antithetic_time", True))
  raise ValueError(f"method {method!r} is not one of {METHODS}")
