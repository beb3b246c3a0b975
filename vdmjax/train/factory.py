"""Objectives from configs: the only place that knows every method."""

from __future__ import annotations

from vdmjax.core.schedules import named_betas
from vdmjax.nets.build import build
from vdmjax.objectives.classifier import ClassifierObjective
from vdmjax.objectives.ddgan import DDGANObjective
from vdmjax.objectives.iddpm import IDDPMObjective
from vdmjax.objectives.vdm import VDMObjective
from vdmjax.train import optim

METHODS = ("vdm", "iddpm", "classifier", "ddgan")


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
  if method == "iddpm":
    obj = config.objective
    return IDDPMObjective(build(config.model.net, "model.net"),
                          named_betas(obj.schedule, obj.T), var_type=obj.var_type,
                          loss_type=obj.loss, lambda_vlb=obj.get("lambda_vlb", 0.001),
                          timestep_sampler=obj.timestep_sampler,
                          num_classes=config.model.net.get("num_classes", 0),
                          p_uncond=obj.get("p_uncond", 0.0),
                          sample_respacing=config.sample.get("respacing", ""))
  if method == "classifier":
    obj = config.objective
    return ClassifierObjective(build(config.model.classifier, "model.classifier"),
                               config.model.classifier.num_classes, diffusion=obj.diffusion,
                               schedule=obj.schedule, T=obj.get("T", 1000),
                               gamma_min=obj.get("gamma_min", -13.3),
                               gamma_max=obj.get("gamma_max", 5.0))
  if method == "ddgan":
    obj, steps = config.objective, config.train.num_steps
    tx_g, _ = optim.make_optimizer(config.optim, steps, config.optim.lr_g)
    tx_d, _ = optim.make_optimizer(config.optim, steps, config.optim.lr_d)
    return DDGANObjective(build(config.model.generator, "model.generator"),
                          build(config.model.discriminator, "model.discriminator"), tx_g, tx_d,
                          T=obj.T, nz=obj.nz, r1_gamma=obj.r1_gamma, lazy_reg=obj.lazy_reg,
                          beta_min=obj.get("beta_min", 0.1), beta_max=obj.get("beta_max", 20.0))
  raise ValueError(f"method {method!r} is not one of {METHODS}")
