"""Improved DDPM (Nichol & Dhariwal 2021), numerically interchangeable with improved-diffusion.

A discrete diffusion of T steps from betas (``named_betas``); integer timestep index t in
[0, T), NHWC arrays, ``model_fn(x_t, t)`` returning C channels (eps) or 2C channels (eps, then
the 'learned range' value v with log variance = frac log beta_t + (1 - frac) log beta~_t,
frac = (v + 1) / 2, eq. 15). In the gamma notation, alphabar_t = sigmoid(-gamma_t) with
gamma from ``betas_to_gamma``. Coefficient tables are built in float64 and stored as float32.
"""

from __future__ import annotations

import math

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from vdmjax.core import guidance, likelihood, schedules

VAR_TYPES = ("learned_range", "fixed_small", "fixed_large")


@flax.struct.dataclass
class Diffusion:
  """Coefficient tables of a T-step diffusion (each an array of length T)."""
  betas: jnp.ndarray
  gamma: jnp.ndarray
  alphas_cumprod: jnp.ndarray
  alphas_cumprod_prev: jnp.ndarray
  sqrt_alphas_cumprod: jnp.ndarray
  sqrt_one_minus_alphas_cumprod: jnp.ndarray
  sqrt_recip_alphas_cumprod: jnp.ndarray
  sqrt_recipm1_alphas_cumprod: jnp.ndarray
  posterior_variance: jnp.ndarray
  posterior_log_variance_clipped: jnp.ndarray
  posterior_mean_coef1: jnp.ndarray
  posterior_mean_coef2: jnp.ndarray
  log_betas: jnp.ndarray
  fixed_large_log_variance: jnp.ndarray
  timestep_map: jnp.ndarray
  var_type: str = flax.struct.field(pytree_node=False, default="learned_range")

  @property
  def num_timesteps(self):
    return self.betas.shape[0]


def make_diffusion(betas, var_type="learned_range", timestep_map=None):
  """The diffusion's tables from float64 betas (improved-diffusion's GaussianDiffusion).

  ``timestep_map`` gives, for a respaced diffusion, the original timestep of each step; the
  model is fed ``timestep_map[t]``.
  """
  if var_type not in VAR_TYPES:
    raise ValueError(f"var_type {var_type!r} is not one of {VAR_TYPES}")
  betas = np.asarray(betas, np.float64)
  if betas.ndim != 1 or np.any(betas <= 0) or np.any(betas > 1):
    raise ValueError("betas must be a 1-D array in (0, 1]")
  alphas = 1.0 - betas
  acp = np.cumprod(alphas)
  acp_prev = np.append(1.0, acp[:-1])
  post_var = betas * (1.0 - acp_prev) / (1.0 - acp)
  # the variance at t = 0 is 0; improved-diffusion clips its log with the value at t = 1
  post_log_var = np.log(np.append(post_var[1], post_var[1:])) if len(betas) > 1 else \
      np.log(np.maximum(post_var, 1e-20))
  tables = dict(
      betas=betas, gamma=schedules.betas_to_gamma(betas), alphas_cumprod=acp,
      alphas_cumprod_prev=acp_prev, sqrt_alphas_cumprod=np.sqrt(acp),
      sqrt_one_minus_alphas_cumprod=np.sqrt(1.0 - acp),
      sqrt_recip_alphas_cumprod=np.sqrt(1.0 / acp),
      sqrt_recipm1_alphas_cumprod=np.sqrt(1.0 / acp - 1.0),
      posterior_variance=post_var, posterior_log_variance_clipped=post_log_var,
      posterior_mean_coef1=betas * np.sqrt(acp_prev) / (1.0 - acp),
      posterior_mean_coef2=(1.0 - acp_prev) * np.sqrt(alphas) / (1.0 - acp),
      log_betas=np.log(betas),
      fixed_large_log_variance=np.log(np.append(post_var[1], betas[1:])) if len(betas) > 1
      else np.log(betas))
  tables = {k: jnp.asarray(v, jnp.float32) for k, v in tables.items()}
  tm = np.arange(len(betas)) if timestep_map is None else np.asarray(timestep_map)
  return Diffusion(**tables, timestep_map=jnp.asarray(tm, jnp.int32), var_type=var_type)


def _at(table, t, like):
  """table[t] per example, broadcast against a batch-first array."""
  v = table[t]
  return v.reshape(v.shape + (1,) * (like.ndim - 1))


def _mean_flat(x):
  return jnp.mean(x, axis=tuple(range(1, x.ndim)))


def q_sample(d, x_start, t, noise):
  """x_t = sqrt(alphabar_t) x_0 + sqrt(1 - alphabar_t) eps."""
  return (_at(d.sqrt_alphas_cumprod, t, x_start) * x_start
          + _at(d.sqrt_one_minus_alphas_cumprod, t, x_start) * noise)


def q_posterior_mean_variance(d, x_start, x_t, t):
  """q(x_{t-1} | x_t, x_0): (mean, variance, clipped log variance) (DDPM eq. 6-7)."""
  mean = (_at(d.posterior_mean_coef1, t, x_t) * x_start
          + _at(d.posterior_mean_coef2, t, x_t) * x_t)
  return (mean, jnp.broadcast_to(_at(d.posterior_variance, t, x_t), x_t.shape),
          jnp.broadcast_to(_at(d.posterior_log_variance_clipped, t, x_t), x_t.shape))


def predict_xstart_from_eps(d, x_t, t, eps):
  return (_at(d.sqrt_recip_alphas_cumprod, t, x_t) * x_t
          - _at(d.sqrt_recipm1_alphas_cumprod, t, x_t) * eps)


def predict_eps_from_xstart(d, x_t, t, pred_xstart):
  return ((_at(d.sqrt_recip_alphas_cumprod, t, x_t) * x_t - pred_xstart)
          / _at(d.sqrt_recipm1_alphas_cumprod, t, x_t))


def split_output(d, output, channels):
  """(eps, log variance) of a model output for this diffusion's variance type."""
  if d.var_type == "learned_range":
    if output.shape[-1] != 2 * channels:
      raise ValueError(f"learned_range needs 2C = {2 * channels} output channels, got "
                       f"{output.shape[-1]}")
    eps, v = jnp.split(output, 2, axis=-1)
    return eps, v
  if output.shape[-1] != channels:
    raise ValueError(f"{d.var_type} needs C = {channels} output channels, got {output.shape[-1]}")
  return output, None


def log_variance_from_v(d, v, t, like):
  """The learned-range interpolation between log beta~_t and log beta_t (eq. 15)."""
  frac = (v + 1.0) / 2.0
  return (frac * _at(d.log_betas, t, like)
          + (1.0 - frac) * _at(d.posterior_log_variance_clipped, t, like))


def p_mean_variance_from_output(d, output, x_t, t, clip_denoised=True, percentile=0.0):
  eps, v = split_output(d, output, x_t.shape[-1])
  if d.var_type == "learned_range":
    log_var = log_variance_from_v(d, v, t, x_t)
  elif d.var_type == "fixed_large":
    log_var = jnp.broadcast_to(_at(d.fixed_large_log_variance, t, x_t), x_t.shape)
  else:
    log_var = jnp.broadcast_to(_at(d.posterior_log_variance_clipped, t, x_t), x_t.shape)
  pred_xstart = guidance.threshold_x(predict_xstart_from_eps(d, x_t, t, eps), clip_denoised,
                                     percentile)
  mean, _, _ = q_posterior_mean_variance(d, pred_xstart, x_t, t)
  return {"mean": mean, "variance": jnp.exp(log_var), "log_variance": log_var,
          "pred_xstart": pred_xstart, "eps": eps}


def p_mean_variance(d, model_fn, x_t, t, clip_denoised=True, percentile=0.0):
  """p(x_{t-1} | x_t): dict with 'mean', 'variance', 'log_variance', 'pred_xstart'.

  The predicted x_0 is clipped to [-1, 1] (``clip_denoised``) or, with ``percentile`` > 0,
  dynamically thresholded (Imagen).
  """
  return p_mean_variance_from_output(d, model_fn(x_t, d.timestep_map[t]), x_t, t, clip_denoised,
                                     percentile)


def vb_terms_from_output(d, output, x_start, x_t, t, clip_denoised=True):
  true_mean, _, true_log_var = q_posterior_mean_variance(d, x_start, x_t, t)
  out = p_mean_variance_from_output(d, output, x_t, t, clip_denoised)
  kl = _mean_flat(likelihood.normal_kl(true_mean, true_log_var, out["mean"],
                                       out["log_variance"])) / math.log(2.0)
  nll = -_mean_flat(likelihood.discretized_gaussian_log_likelihood(
      x_start, out["mean"], 0.5 * out["log_variance"])) / math.log(2.0)
  return jnp.where(t == 0, nll, kl), out


def vb_terms_bpd(d, model_fn, x_start, x_t, t, clip_denoised=True):
  """Per-example bits per dim: KL(q(x_{t-1}|x_t,x_0) || p(x_{t-1}|x_t)) for t > 0 and the
  discretized-Gaussian decoder NLL at t = 0 (improved-diffusion's _vb_terms_bpd 'output')."""
  return vb_terms_from_output(d, model_fn(x_t, d.timestep_map[t]), x_start, x_t, t,
                              clip_denoised)[0]


def prior_bpd(d, x_start):
  """KL(q(x_T | x_0) || N(0, I)) in bits per dim."""
  t = jnp.full((x_start.shape[0],), d.num_timesteps - 1)
  mean = _at(d.sqrt_alphas_cumprod, t, x_start) * x_start
  log_var = jnp.broadcast_to(jnp.log(1.0 - _at(d.alphas_cumprod, t, x_start)), x_start.shape)
  return _mean_flat(likelihood.normal_kl(mean, log_var, 0.0, 0.0)) / math.log(2.0)


def bpd_loop(d, model_fn, x_start, rng, clip_denoised=True):
  """The exact T-term bound of every example, as improved-diffusion's calc_bpd_loop.

  One lax.scan over t = T-1, ..., 0 with fresh noise per step. Per-t arrays are (B, T) in the
  loop's order (column j is t = T-1-j), as improved-diffusion stacks them.
  """
  batch = x_start.shape[0]

  def step(carry, t):
    noise = jax.random.normal(jax.random.fold_in(rng, t), x_start.shape)
    tt = jnp.full((batch,), t)
    x_t = q_sample(d, x_start, tt, noise)
    vb, out = vb_terms_from_output(d, model_fn(x_t, d.timestep_map[tt]), x_start, x_t, tt,
                                   clip_denoised)
    eps = predict_eps_from_xstart(d, x_t, tt, out["pred_xstart"])
    return carry, (vb, _mean_flat((out["pred_xstart"] - x_start) ** 2),
                   _mean_flat((eps - noise) ** 2))

  ts = jnp.arange(d.num_timesteps - 1, -1, -1)
  _, (vb, xstart_mse, mse) = jax.lax.scan(step, None, ts)
  vb, xstart_mse, mse = vb.T, xstart_mse.T, mse.T
  prior = prior_bpd(d, x_start)
  return {"total_bpd": vb.sum(axis=1) + prior, "prior_bpd": prior, "vb": vb,
          "xstart_mse": xstart_mse, "mse": mse}


def space_timesteps(num_timesteps, section_counts):
  """improved-diffusion's space_timesteps: '50', '10,15,20' (per equal section) or 'ddim50'."""
  if isinstance(section_counts, str):
    if section_counts.startswith("ddim"):
      desired = int(section_counts[len("ddim"):])
      for i in range(1, num_timesteps):
        if len(range(0, num_timesteps, i)) == desired:
          return set(range(0, num_timesteps, i))
      raise ValueError(f"cannot create exactly {desired} steps with an integer stride")
    section_counts = [int(x) for x in section_counts.split(",")]
  size_per, extra = divmod(num_timesteps, len(section_counts))
  start, steps = 0, []
  for i, count in enumerate(section_counts):
    size = size_per + (1 if i < extra else 0)
    if size < count:
      raise ValueError(f"cannot divide a section of {size} steps into {count}")
    stride = 1 if count <= 1 else (size - 1) / (count - 1)
    cur = 0.0
    for _ in range(count):
      steps.append(start + round(cur))
      cur += stride
    start += size
  return set(steps)


def respace(betas, use_timesteps, var_type="learned_range"):
  """The diffusion on the kept steps: betas from the ratios of the kept alphabars."""
  alphas_cumprod = np.cumprod(1.0 - np.asarray(betas, np.float64))
  last, new_betas, timestep_map = 1.0, [], []
  for i, acp in enumerate(alphas_cumprod):
    if i in use_timesteps:
      new_betas.append(1.0 - acp / last)
      last = acp
      timestep_map.append(i)
  return make_diffusion(np.array(new_betas), var_type, timestep_map)


def p_sample_loop(d, model_fn, rng, shape, clip_denoised=True, cond_fn=None, percentile=0.0):
  """Ancestral sampling x_T -> x_0 with the model's own (learned or fixed) variances.

  ``cond_fn(x_t, model_t)`` -> s grad log p(c | x_t) moves each mean by Sigma times it:
  classifier guidance (Dhariwal & Nichol 2021, Algorithm 1; guided-diffusion's cond_fn).
  """
  rng_init, rng_loop = jax.random.split(rng)

  def step(x, t):
    tt = jnp.full((shape[0],), t)
    out = p_mean_variance(d, model_fn, x, tt, clip_denoised, percentile)
    mean = out["mean"]
    if cond_fn is not None:
      mean = mean + out["variance"] * cond_fn(x, d.timestep_map[tt])
    noise = jax.random.normal(jax.random.fold_in(rng_loop, t), shape)
    nonzero = (t != 0).astype(x.dtype)
    return mean + nonzero * jnp.exp(0.5 * out["log_variance"]) * noise, None

  x, _ = jax.lax.scan(step, jax.random.normal(rng_init, shape),
                      jnp.arange(d.num_timesteps - 1, -1, -1))
  return x


def ddim_sample_loop(d, model_fn, rng, shape, eta=0.0, clip_denoised=True, cond_fn=None,
                     percentile=0.0):
  """DDIM (Song et al. 2021, eq. 12) on this (possibly respaced) diffusion.

  ``cond_fn`` as in p_sample_loop, applied to the score: eps - sqrt(1 - alphabar) s grad log
  p(c | x_t) (Dhariwal & Nichol 2021, Algorithm 2), x_0 then re-predicted from that eps.
  """
  rng_init, rng_loop = jax.random.split(rng)

  def step(x, t):
    tt = jnp.full((shape[0],), t)
    out = p_mean_variance(d, model_fn, x, tt, clip_denoised, percentile)
    eps = predict_eps_from_xstart(d, x, tt, out["pred_xstart"])
    pred_xstart = out["pred_xstart"]
    if cond_fn is not None:
      eps = eps - _at(d.sqrt_one_minus_alphas_cumprod, tt, x) * cond_fn(x, d.timestep_map[tt])
      pred_xstart = predict_xstart_from_eps(d, x, tt, eps)
    ab, ab_prev = d.alphas_cumprod[t], d.alphas_cumprod_prev[t]
    sigma = eta * jnp.sqrt((1 - ab_prev) / (1 - ab)) * jnp.sqrt(1 - ab / ab_prev)
    mean = pred_xstart * jnp.sqrt(ab_prev) + jnp.sqrt(1 - ab_prev - sigma**2) * eps
    noise = jax.random.normal(jax.random.fold_in(rng_loop, t), shape)
    return mean + (t != 0).astype(x.dtype) * sigma * noise, None

  x, _ = jax.lax.scan(step, jax.random.normal(rng_init, shape),
                      jnp.arange(d.num_timesteps - 1, -1, -1))
  return x


# --- training ----------------------------------------------------------------------------------

LOSSES = ("simple", "hybrid", "vlb")
HISTORY = 10            # loss values kept per timestep for importance sampling
UNIFORM_PROB = 0.001    # improved-diffusion's LossSecondMomentResampler mixes in this much


def importance_probs(history, counts):
  """p(t) proportional to sqrt(E[L_t^2]) over each step's last 10 losses, mixed with 0.1% of
  uniform; uniform until every step has its full history (Nichol & Dhariwal, Sec. 3.3)."""
  T = history.shape[0]
  w = jnp.sqrt(jnp.mean(history**2, axis=-1))
  p = w / jnp.sum(w)
  p = p * (1.0 - UNIFORM_PROB) + UNIFORM_PROB / T
  ready = jnp.all(counts >= HISTORY)
  return jnp.where(ready, p, jnp.full((T,), 1.0 / T))


def update_history(history, counts, t, losses):
  """Append each example's loss to its step's history (oldest dropped when full)."""

  def body(i, hc):
    h, c = hc
    ti, n = t[i], c[t[i]]
    row = jnp.where(n >= HISTORY, jnp.roll(h[ti], -1).at[-1].set(losses[i]),
                    h[ti].at[jnp.minimum(n, HISTORY - 1)].set(losses[i]))
    return h.at[ti].set(row), c.at[ti].set(jnp.minimum(n + 1, HISTORY))

  return jax.lax.fori_loop(0, t.shape[0], body, (history, counts))


def training_terms(d, output, x_start, x_t, t, noise, loss_type, lambda_vlb=0.001):
  """Per-example losses from a model output: L_simple (mean squared eps error), L_vlb
  (T * L_t in bits per dim) or the hybrid L_simple + lambda T L_t, whose L_t term sees the
  mean through a stop-gradient so that it trains the variance only (eq. 16)."""
  eps, v = split_output(d, output, x_t.shape[-1])
  mse = _mean_flat((noise - eps) ** 2)
  T = d.num_timesteps
  if loss_type == "simple":
    return {"loss": mse, "mse": mse}
  if loss_type == "hybrid":
    if v is None:
      raise ValueError("objective.loss 'hybrid' needs a learned variance (var_type "
                       "'learned_range')")
    frozen = jnp.concatenate([jax.lax.stop_gradient(eps), v], axis=-1)
    vb, _ = vb_terms_from_output(d, frozen, x_start, x_t, t, clip_denoised=False)
    return {"loss": mse + lambda_vlb * T * vb, "mse": mse, "vb": vb}
  if loss_type == "vlb":
    vb, _ = vb_terms_from_output(d, output, x_start, x_t, t, clip_denoised=False)
    return {"loss": T * vb, "mse": mse, "vb": vb}
  raise ValueError(f"objective.loss {loss_type!r} is not one of {LOSSES}")


class IDDPMObjective:
  """Improved DDPM with an ADM U-Net fed the (original) integer timestep."""

  def __init__(self, net, betas, var_type="learned_range", loss_type="hybrid",
               lambda_vlb=0.001, timestep_sampler="uniform", num_classes=0, p_uncond=0.0,
               sample_respacing="", clip_denoised=True):
    if loss_type not in LOSSES:
      raise ValueError(f"objective.loss {loss_type!r} is not one of {LOSSES}")
    if timestep_sampler not in ("uniform", "importance"):
      raise ValueError(f"objective.timestep_sampler {timestep_sampler!r} is not 'uniform' or "
                       "'importance'")
    self.net, self.betas = net, np.asarray(betas, np.float64)
    self.diffusion = make_diffusion(self.betas, var_type)
    self.loss_type, self.lambda_vlb, self.sampler = loss_type, lambda_vlb, timestep_sampler
    self.num_classes, self.p_uncond = num_classes, p_uncond
    self.sample_respacing, self.clip_denoised = sample_respacing, clip_denoised

  def init(self, rng, batch):
    x = likelihood.uint8_to_unit(batch["image"])
    t = jnp.zeros((x.shape[0],), jnp.int32)
    return self.net.init(rng, x, t, batch.get("label"))["params"]

  def init_aux(self):
    if self.sampler != "importance":
      return {}
    T = self.diffusion.num_timesteps
    return {"history": jnp.zeros((T, HISTORY)), "counts": jnp.zeros((T,), jnp.int32)}

  def model_fn(self, params, labels=None, train=False, rng=None):
    rngs = {"dropout": rng} if train else {}
    return lambda x_t, t: self.net.apply({"params": params}, x_t, t, labels, train=train,
                                         rngs=rngs)

  def grads(self, params, aux, batch, rng):
    d = self.diffusion
    x0 = likelihood.uint8_to_unit(batch["image"])
    b = x0.shape[0]
    rng_t, rng_n, rng_drop, rng_label = jax.random.split(rng, 4)
    T = d.num_timesteps
    p = importance_probs(aux["history"], aux["counts"]) if aux else jnp.full((T,), 1.0 / T)
    t = jax.random.choice(rng_t, T, (b,), p=p)
    weights = 1.0 / (T * p[t])
    noise = jax.random.normal(rng_n, x0.shape)
    x_t = q_sample(d, x0, t, noise)
    labels = batch.get("label") if self.num_classes > 0 else None
    if labels is not None and self.p_uncond > 0:
      labels = guidance.drop_labels(rng_label, labels, self.p_uncond, self.num_classes)

    def loss_fn(params):
      output = self.model_fn(params, labels, True, rng_drop)(x_t, d.timestep_map[t])
      terms = training_terms(d, output, x0, x_t, t, noise, self.loss_type, self.lambda_vlb)
      return jnp.mean(weights * terms["loss"]), terms

    (loss, terms), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    if aux:
      history, counts = update_history(aux["history"], aux["counts"], t,
                                       jax.lax.stop_gradient(terms["loss"]))
      aux = {"history": history, "counts": counts}
    metrics = {"loss": loss, "mse": jnp.mean(terms["mse"])}
    if "vb" in terms:
      metrics["vb"] = jnp.mean(terms["vb"])
    # the shared loop logs 'bpd': the per-step L_t estimate of the bound, T E_t[L_t]
    if "vb" in terms:
      metrics["bpd"] = T * jnp.mean(weights * terms["vb"])
    return grads, aux, metrics

  def eval_terms(self, params, batch, rng, conditional=False):
    """The exact T-term bound per example (bpd_loop), split as prior, decoder and the rest."""
    labels = batch.get("label") if (conditional and self.num_classes > 0) else None
    x0 = likelihood.uint8_to_unit(batch["image"])
    out = bpd_loop(self.diffusion, self.model_fn(params, labels), x0, rng, self.clip_denoised)
    recon = out["vb"][:, -1]
    return {"bpd": out["total_bpd"], "prior": out["prior_bpd"], "recon": recon,
            "diffusion": out["vb"].sum(axis=1) - recon}

  def ode_fns(self, params, labels=None):
    """(eps_fn, gamma_fn) of the probability-flow ODE (vdmjax.eval.likelihood): gamma(t) is
    the T-step table interpolated linearly over t in [0, 1] (t = 0 at the first step), and
    the network is fed the fractional timestep of gamma_t in that table."""
    d = self.diffusion
    steps = jnp.arange(d.num_timesteps, dtype=jnp.float32)
    gamma_fn = lambda t: jnp.interp(t * (d.num_timesteps - 1), steps, d.gamma)
    model = self.model_fn(params, labels if self.num_classes > 0 else None)

    def eps_fn(z, gamma):
      eps, _ = split_output(d, model(z, jnp.interp(gamma, d.gamma, steps)), z.shape[-1])
      return eps

    return eps_fn, gamma_fn

  def sample(self, params, rng, shape, num_steps=None, labels=None, guidance_w=0.0,
             sampler="ancestral", eta=0.0, percentile=0.0, cond_fn=None):
    """Samples on the configured respacing (or ``num_steps`` evenly spaced steps) by ancestral
    sampling with the model's variances or by DDIM.

    With labels: the conditional model, classifier-free guided for guidance_w != 0 (both
    passes in one call; the variance output is the conditional one). ``cond_fn(x_t, t)`` ->
    s grad log p(c | x_t) adds classifier guidance (mean shift, or the score form for DDIM).
    """
    spec = self.sample_respacing or str(num_steps or self.diffusion.num_timesteps)
    d = respace(self.betas, space_timesteps(len(self.betas), spec), self.diffusion.var_type)
    if labels is not None and self.num_classes > 0 and guidance.is_guided(guidance_w):
      def model_fn(x, t):
        both = self.net.apply({"params": params}, jnp.concatenate([x, x]),
                              jnp.concatenate([t, t]),
                              jnp.concatenate([labels, jnp.full_like(labels, self.num_classes)]))
        c, u = jnp.split(both, 2)
        eps_c, v = split_output(d, c, x.shape[-1])
        eps_u, _ = split_output(d, u, x.shape[-1])
        guided = guidance.cfg(eps_c, eps_u, guidance_w)
        return guided if v is None else jnp.concatenate([guided, v], axis=-1)
    else:
      model_fn = self.model_fn(params, labels if self.num_classes > 0 else None)
    if sampler == "ddim":
      x = ddim_sample_loop(d, model_fn, rng, shape, eta, self.clip_denoised, cond_fn, percentile)
    elif sampler == "ancestral":
      x = p_sample_loop(d, model_fn, rng, shape, self.clip_denoised, cond_fn, percentile)
    else:
      raise ValueError(f"sample.sampler {sampler!r} is not 'ancestral' or 'ddim'")
    return jnp.clip(x, -1.0, 1.0)
