"""The VDM variational bound (Kingma et al. 2021) for any eps-denoiser and schedule.

``vlb`` is the public contract of DESIGN.md: per-example prior, reconstruction and diffusion
terms in nats for uint8 data, in continuous time (T=0, eq. 17) or discrete time (T>0, eq. 13).
"""

from __future__ import annotations

import math
from typing import Callable

import chex
import jax
import jax.numpy as jnp

from vdmjax.core import guidance, likelihood, process, samplers

WEIGHTINGS = ("vlb", "simple")


def sample_times(rng, batch_size, antithetic=True):
  """t in [0, 1) per example; ``antithetic`` gives VDM's low-discrepancy t_i = mod(u + i/B, 1).

  i/B is formed from an integer range, so exactly B values come out for every B (a float
  ``arange(0, 1, 1/B)`` yields B+1 values for B = 49, 98, 103, ...).
  """
  if not antithetic:
    return jax.random.uniform(rng, (batch_size,))
  u = jax.random.uniform(rng, ())
  return jnp.mod(u + jnp.arange(batch_size, dtype=jnp.float32) / batch_size, 1.0)


def discretize_times(t, num_steps):
  """Map t in [0, 1) to the grid t(i) = i/T, i in {1..T}; returns (t, s = t - 1/T)."""
  i = jnp.maximum(jnp.ceil(t * num_steps), 1.0)
  return i / num_steps, (i - 1.0) / num_steps


def gamma_and_derivative(gamma_fn, t):
  """(gamma(t), d gamma / dt) for an elementwise schedule, by forward-mode autodiff."""
  return jax.jvp(gamma_fn, (t,), (jnp.ones_like(t),))


def _sum_dims(a):
  return jnp.sum(a, axis=tuple(range(1, a.ndim)))


def diffusion_loss_continuous(eps, eps_hat, dgamma_dt):
  """L_inf = gamma'(t) / 2 ||eps - eps_hat||^2 per example (VDM eq. 17)."""
  return 0.5 * dgamma_dt * _sum_dims((eps - eps_hat) ** 2)


def schedule_values(gamma_fn, t, T):
  """What the diffusion term needs of the schedule: (gamma_t, gamma'(t)) if T = 0, else
  (gamma_t, gamma_s) on the grid of T steps."""
  if T == 0:
    return gamma_and_derivative(gamma_fn, t)
  t, s = discretize_times(t, T)
  return gamma_fn(t), gamma_fn(s)


def vlb_terms(x, eps_fn, sched_values, gamma_ends, eps, eps_0, T):
  """The bound's terms from given schedule values (see :func:`vlb`); also returns the
  per-example squared error 'sq_err' = ||eps - eps_hat||^2 for weighted losses."""
  batch = x.shape[0]
  f = likelihood.uint8_to_unit(x)
  gamma_0, gamma_1 = gamma_ends[0], gamma_ends[1]
  z_0 = process.diffuse(f, eps_0, jnp.full((batch,), gamma_0))
  recon = _sum_dims(likelihood.vdm_decoder_nll(x, z_0, jnp.full((batch,), gamma_0)))
  prior = _sum_dims(likelihood.prior_kl(f, jnp.full((batch,), gamma_1)))
  gamma_t, other = sched_values
  eps_hat = eps_fn(process.diffuse(f, eps, gamma_t), gamma_t)
  sq_err = _sum_dims((eps - eps_hat) ** 2)
  if T == 0:
    diffusion = 0.5 * other * sq_err                                   # eq. 17
  else:
    diffusion = 0.5 * T * jnp.expm1(gamma_t - other) * sq_err          # eq. 13
  total = prior + recon + diffusion
  num_dims = math.prod(x.shape[1:])
  return {"prior": prior, "recon": recon, "diffusion": diffusion, "total": total,
          "bpd": likelihood.nats_to_bpd(total, num_dims), "sq_err": sq_err}


def vlb(x: chex.Array, eps_fn: Callable, gamma_fn: Callable, rng: chex.PRNGKey, T: int = 0,
        antithetic_time: bool = True):
  """The VDM variational bound -log p(x) <= prior + recon + diffusion, per example, in nats.

  Args:
    x: uint8 (or integer-valued) data, batch first, any shape.
    eps_fn: ``eps_fn(z_t, gamma_t) -> eps_hat`` with gamma_t of shape (B,).
    gamma_fn: the schedule ``gamma_fn(t)``, elementwise in t.
    rng: PRNG key for times and noise.
    T: 0 for continuous time (eq. 17), T > 0 for the discrete-time bound of T steps (eq. 13).
    antithetic_time: low-discrepancy times (VDM's default) instead of i.i.d. uniform.

  Returns:
    dict of (B,) arrays: 'prior', 'recon', 'diffusion', 'total' (nats), 'bpd'.
  """
  if T < 0:
    raise ValueError(f"vlb: T must be 0 (continuous) or a positive step count, got {T}")
  chex.assert_rank(x, {1, 2, 3, 4, 5})
  rng_t, rng_eps, rng_0 = jax.random.split(rng, 3)
  t = sample_times(rng_t, x.shape[0], antithetic_time)
  eps = jax.random.normal(rng_eps, x.shape)
  eps_0 = jax.random.normal(rng_0, x.shape)
  out = vlb_terms(x, eps_fn, schedule_values(gamma_fn, t, T), gamma_fn(jnp.array([0.0, 1.0])),
                  eps, eps_0, T)
  del out["sq_err"]
  return out


def loss_weight(name, gamma, dgamma_dt):
  """w(v) of the weighted diffusion loss at SNR v = exp(-gamma) for a named weighting.

  'vlb': w = 1, the variational bound. 'simple': w = 1 / gamma'(t), which turns the loss
  into E_t[||eps - eps_hat||^2] / 2, DDPM's L_simple (Ho et al. 2020, eq. 14) up to the 1/2.
  """
  if name == "vlb":
    return jnp.ones_like(gamma)
  if name == "simple":
    return 1.0 / dgamma_dt
  raise ValueError(f"weighting {name!r} is not one of {WEIGHTINGS}")


def weighted_diffusion_loss(x, x_hat, gamma, dgamma_dt, weighting="vlb"):
  """1/2 w(v) (-dv/dt) ||x - x_hat||^2 per example: the integrand over SNR v in time t.

  The slides' L_w = 1/2 E_x int w(v) ||x - x_hat(z_v)||^2 dv over v from SNR_max down to
  SNR_min; with t uniform, dv = -v gamma'(t) dt. For w = 1 it is VDM's continuous loss
  written in x-space.
  """
  w = loss_weight(weighting, gamma, dgamma_dt) if isinstance(weighting, str) else weighting(
      gamma, dgamma_dt)
  minus_dsnr_dt = jnp.exp(-gamma) * dgamma_dt
  return 0.5 * w * minus_dsnr_dt * _sum_dims((x - x_hat) ** 2)


def _bpd_parts(out, num_dims):
  return {k: likelihood.nats_to_bpd(out[k], num_dims) for k in ("prior", "recon", "diffusion")}


class VDMObjective:
  """VDM training and evaluation: a score network and a noise schedule, one bound.

  ``schedule_grad='variance'`` is the paper's variance minimisation (Sec. 5.2, Appendix I.2):
  the network and the schedule's end points get the gradient of the bound, while the
  schedule's interior gets the gradient of the mean squared diffusion loss, E[L_d^2], whose
  gradient is that of the estimator's variance because E[L_d] depends on the end points only.
  Both come from one backward pass through the network: the per-example cotangents c_i of the
  schedule values are re-weighted by 2 L_d,i and pulled back through the (small) schedule.
  """

  def __init__(self, score_net, schedule, T=0, schedule_grad="variance", weighting="vlb",
               num_classes=0, p_uncond=0.0, antithetic_time=True):
    if T < 0:
      raise ValueError(f"objective.T must be >= 0, got {T}")
    if schedule_grad not in ("vlb", "variance"):
      raise ValueError(f"objective.schedule_grad {schedule_grad!r} is not 'vlb' or 'variance'")
    if weighting != "vlb" and T != 0:
      raise ValueError("objective.weighting other than 'vlb' needs continuous time (T=0)")
    loss_weight(weighting, jnp.zeros(()), jnp.ones(()))   # validates the name
    self.score_net, self.schedule = score_net, schedule
    self.T, self.schedule_grad, self.weighting = T, schedule_grad, weighting
    self.num_classes, self.p_uncond, self.antithetic_time = num_classes, p_uncond, antithetic_time

  def init(self, rng, batch):
    x = likelihood.uint8_to_unit(batch["image"])
    r1, r2 = jax.random.split(rng)
    g = jnp.zeros((x.shape[0],))
    return {"score": self.score_net.init(r1, x, g, batch.get("label"))["params"],
            "schedule": self.schedule.init(r2, g).get("params", {})}   # fixed: none

  def init_aux(self):
    """VDM keeps no state besides its parameters."""
    return {}

  def gamma_fn(self, params):
    return lambda t: self.schedule.apply({"params": params["schedule"]}, t)

  def eps_fn(self, params, labels=None, train=False, rng=None):
    rngs = {"dropout": rng} if train else {}
    return lambda z, g: self.score_net.apply({"params": params["score"]}, z, g, labels,
                                             train=train, rngs=rngs)

  def _labels(self, batch, rng, train):
    labels = batch.get("label") if self.num_classes > 0 else None
    if labels is not None and train and self.p_uncond > 0:
      labels = guidance.drop_labels(rng, labels, self.p_uncond, self.num_classes)
    return labels

  def draw(self, rng, shape):
    """The randomness of one training batch: (t, eps, eps_0, dropout key, label key)."""
    rng_t, rng_eps, rng_0, rng_drop, rng_label = jax.random.split(rng, 5)
    return (sample_times(rng_t, shape[0], self.antithetic_time), jax.random.normal(rng_eps, shape),
            jax.random.normal(rng_0, shape), rng_drop, rng_label)

  def grads(self, params, aux, batch, rng):
    """(grads, aux, metrics) of one training batch; metrics are batch means in bits per dim."""
    x = batch["image"]
    num_dims = math.prod(x.shape[1:])
    norm = 1.0 / (num_dims * math.log(2.0))
    t, eps, eps_0, rng_drop, rng_label = self.draw(rng, x.shape)
    labels = self._labels(batch, rng_label, True)

    sched_vals, sched_vjp = jax.vjp(
        lambda p: schedule_values(self.gamma_fn({"schedule": p}), t, self.T), params["schedule"])
    ends, ends_vjp = jax.vjp(lambda p: self.gamma_fn({"schedule": p})(jnp.array([0.0, 1.0])),
                             params["schedule"])

    def loss_fn(score_params, vals, ends_):
      p = {"score": score_params, "schedule": params["schedule"]}
      out = vlb_terms(x, self.eps_fn(p, labels, True, rng_drop), vals, ends_, eps, eps_0, self.T)
      diffusion = out["diffusion"]
      if self.weighting != "vlb":
        w = loss_weight(self.weighting, vals[0], vals[1])
        diffusion = 0.5 * w * vals[1] * out["sq_err"]
      loss = jnp.mean(out["prior"] + out["recon"] + diffusion) * norm
      return loss, out

    (loss, out), (g_score, c_vals, c_ends) = jax.value_and_grad(
        loss_fn, argnums=(0, 1, 2), has_aux=True)(params["score"], sched_vals, ends)
    (g_sched,) = sched_vjp(c_vals)
    (g_ends,) = ends_vjp(c_ends)
    g_sched = jax.tree.map(jnp.add, g_sched, g_ends)
    metrics = {"loss": loss, "bpd": jnp.mean(out["bpd"])}
    metrics.update({k: jnp.mean(v) for k, v in _bpd_parts(out, num_dims).items()})
    if self.schedule_grad == "variance":
      ld = out["diffusion"] * norm
      (g_var,) = sched_vjp(jax.tree.map(lambda c: 2.0 * ld * c, c_vals))
      g_sched = {k: (g_sched[k] if k == "ends" else g_var[k]) for k in g_sched}
      metrics["diffusion_var"] = jnp.var(ld)
    return {"score": g_score, "schedule": g_sched}, aux, metrics

  def eval_terms(self, params, batch, rng, conditional=False):
    """Per-example bound in bits per dim with its parts (eval mode and held-out metrics)."""
    x = batch["image"]
    labels = batch.get("label") if (conditional and self.num_classes > 0) else None
    out = vlb(x, self.eps_fn(params, labels), self.gamma_fn(params), rng, self.T,
              self.antithetic_time)
    parts = _bpd_parts(out, math.prod(x.shape[1:]))
    return {"bpd": out["bpd"], **parts}

  def ode_fns(self, params, labels=None):
    """(eps_fn, gamma_fn) of the probability-flow ODE (vdmjax.eval.likelihood)."""
    return self.eps_fn(params, labels if self.num_classes > 0 else None), self.gamma_fn(params)

  def sample(self, params, rng, shape, num_steps=1000, labels=None, guidance_w=0.0,
             sampler="ancestral", eta=0.0, percentile=0.0, cond_fn=None):
    """Samples in [-1, 1] by ancestral sampling or DDIM with ``num_steps`` steps.

    With labels: the conditional model, classifier-free guided for guidance_w != 0 (both
    passes batched). ``cond_fn(z_t, gamma_t)`` -> s grad log p(c | z_t) adds classifier
    guidance: a mean shift by the step's variance (ancestral) or eps - sigma_t s grad (DDIM).
    The predicted x is clipped to [-1, 1], or dynamically thresholded at ``percentile``.
    """
    if labels is not None and self.num_classes > 0 and guidance.is_guided(guidance_w):
      cond = lambda z, g, c: self.score_net.apply({"params": params["score"]}, z, g, c)
      denoiser = guidance.cfg_denoiser(cond, labels, self.num_classes, guidance_w)
    else:
      denoiser = self.eps_fn(params, labels if self.num_classes > 0 else None)
    gamma_fn = self.gamma_fn(params)
    if sampler == "ddim":
      if cond_fn is not None:
        denoiser = guidance.shifted_denoiser(denoiser, cond_fn)
      return samplers.ddim_sample(denoiser, gamma_fn, rng, shape, num_steps, eta, clip_x=True,
                                  percentile=percentile)
    if sampler != "ancestral":
      raise ValueError(f"sample.sampler {sampler!r} is not 'ancestral' or 'ddim'")
    return samplers.ancestral_sample(denoiser, gamma_fn, rng, shape, num_steps, clip_x=True,
                                     percentile=percentile, mean_shift_fn=cond_fn)
