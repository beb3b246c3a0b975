"""Exact likelihoods through the probability-flow ODE (Song et al. 2021), in the gamma notation.

For the variance-preserving process z_t = alpha_t x + sigma_t eps with gamma(t) = -log SNR(t),
the ODE that shares the marginals of the diffusion is

    dz/dt = gamma'(t) / 2 * (sigma_t eps_hat(z, gamma_t) - sigma_t^2 z),

(drift f z - g^2 score / 2 with f = -sigma^2 gamma' / 2, g^2 = sigma^2 gamma', score =
-eps_hat / sigma). Integrating it from t = 0 to 1 together with its divergence gives the
instantaneous change of variables log p_0(z_0) = log N(z_1; 0, I) + int_0^1 div f dt. The
divergence is exact (one Jacobian row per dimension, for small data) or Hutchinson's estimate
v^T (df/dz) v with Rademacher or Gaussian probes held fixed along the path (FFJORD).
Data x enter as z_0 = alpha_0 x, hence log p(x) = log p_0(alpha_0 x) + D log alpha_0.
"""

from __future__ import annotations

import math

import diffrax
import jax
import jax.numpy as jnp

from vdmjax.config_files import ODE_DEFAULTS
from vdmjax.core import likelihood as core_likelihood
from vdmjax.core import process
from vdmjax.core.schedules import alpha_sigma

SOLVERS = {"tsit5": diffrax.Tsit5, "dopri5": diffrax.Dopri5, "heun": diffrax.Heun,
           "euler": diffrax.Euler}
# function evaluations per step: the adaptive solvers are FSAL (7 stages, 6 new per step)
NEW_EVALS_PER_STEP = {"tsit5": 6, "dopri5": 6, "heun": 2, "euler": 1}
PROBES = ("rademacher", "gaussian")


def ode_drift(eps_fn, gamma_fn):
  """f(t, z) = gamma'(t) / 2 (sigma_t eps_hat(z, gamma_t) - sigma_t^2 z) for a batch z."""

  def drift(t, z):
    gamma, dgamma = jax.jvp(gamma_fn, (t,), (jnp.ones_like(t),))
    sigma2 = jax.nn.sigmoid(gamma)
    eps = eps_fn(z, jnp.full((z.shape[0],), gamma))
    return 0.5 * dgamma * (jnp.sqrt(sigma2) * eps - sigma2 * z)

  return drift


def exact_divergence(fn, z):
  """Per-example trace of d fn / d z for fn mapping (B, ...) -> (B, ...) example-wise."""
  b, shape = z.shape[0], z.shape[1:]
  dim = math.prod(shape)
  flat = z.reshape(b, dim)
  eye = jnp.eye(dim, dtype=z.dtype)

  def row(i):
    _, jv = jax.jvp(lambda y: fn(y.reshape(z.shape)).reshape(b, dim), (flat,),
                    (jnp.broadcast_to(eye[i], flat.shape),))
    return jv[:, i]

  return jnp.sum(jax.lax.map(row, jnp.arange(dim)), axis=0)


def hutchinson_divergence(fn, z, probes):
  """Per-example mean over probes v of v^T (d fn / d z) v; ``probes`` (K, *z.shape)."""

  def one(v):
    _, jv = jax.jvp(fn, (z,), (v,))
    return jnp.sum((jv * v).reshape(z.shape[0], -1), axis=1)

  return jnp.mean(jax.lax.map(one, probes), axis=0)


def draw_probes(rng, shape, num_probes=1, probe="rademacher"):
  if probe not in PROBES:
    raise ValueError(f"eval.ode.probe {probe!r} is not one of {PROBES}")
  if probe == "rademacher":
    return jax.random.rademacher(rng, (num_probes,) + tuple(shape)).astype(jnp.float32)
  return jax.random.normal(rng, (num_probes,) + tuple(shape))


def ode_log_prob_z0(z0, eps_fn, gamma_fn, rng, exact_trace=False, solver="tsit5", rtol=1e-5,
                    atol=1e-5, num_steps=0, num_probes=1, probe="rademacher", max_steps=4096):
  """(log p_0(z_0) per example in nats, number of function evaluations).

  ``num_steps`` > 0 uses a fixed step size 1 / num_steps, otherwise the adaptive ``solver``
  with tolerances ``rtol`` / ``atol`` (PID step control).
  """
  if solver not in SOLVERS:
    raise ValueError(f"eval.ode.solver {solver!r} is not one of {sorted(SOLVERS)}")
  drift = ode_drift(eps_fn, gamma_fn)
  probes = None if exact_trace else draw_probes(rng, z0.shape, num_probes, probe)

  def vector_field(t, state, args):
    z, _ = state
    f = lambda y: drift(t, y)
    div = exact_divergence(f, z) if exact_trace else hutchinson_divergence(f, z, probes)
    return f(z), div

  if num_steps:
    controller, dt0 = diffrax.ConstantStepSize(), 1.0 / num_steps
  else:
    controller, dt0 = diffrax.PIDController(rtol=rtol, atol=atol), None
  sol = diffrax.diffeqsolve(diffrax.ODETerm(vector_field), SOLVERS[solver](), 0.0, 1.0, dt0,
                            (z0, jnp.zeros(z0.shape[0], z0.dtype)),
                            stepsize_controller=controller, max_steps=max_steps)
  z1, delta = sol.ys[0][0], sol.ys[1][0]
  dim = math.prod(z0.shape[1:])
  prior = -0.5 * jnp.sum(z1.reshape(z1.shape[0], -1) ** 2, axis=1) - 0.5 * dim * math.log(
      2 * math.pi)
  nfe = NEW_EVALS_PER_STEP[solver] * sol.stats["num_steps"] + 1
  return prior + delta, nfe


def ode_log_likelihood_and_nfe(x, eps_fn, gamma_fn, rng, exact_trace=False, **solver_options):
  """(log p(x) per example in nats, function evaluations) for continuous data x."""
  alpha_0, _ = alpha_sigma(gamma_fn(jnp.zeros(())))
  dim = math.prod(x.shape[1:])
  logp, nfe = ode_log_prob_z0(alpha_0 * x, eps_fn, gamma_fn, rng, exact_trace, **solver_options)
  return logp + dim * jnp.log(alpha_0), nfe


def ode_log_likelihood(x, eps_fn, gamma_fn, rng, exact_trace=False, **solver_options):
  """Per-example log density in nats of continuous data ``x`` (batch first) at t = 0 under the
  probability-flow ODE of ``eps_fn(z_t, gamma_t)`` and ``gamma_fn(t)`` (as in ``vdm.vlb``).

  solver_options: solver ('tsit5', 'dopri5', or fixed-step 'heun', 'euler' with num_steps),
  rtol, atol, num_steps, num_probes, probe ('rademacher' or 'gaussian'), max_steps.
  """
  return ode_log_likelihood_and_nfe(x, eps_fn, gamma_fn, rng, exact_trace, **solver_options)[0]


def ode_bpd(x_uint8, eps_fn, gamma_fn, rng, dequantization="uniform", exact_trace=False,
            **solver_options):
  """Bits per dimension of 8-bit data on its grid through the ODE, with the number of
  function evaluations.

  'uniform': x = 2k/255 - 1 + u, u ~ U(-1/255, 1/255) per dimension, so that
  log P(k) >= E_u log p(x) + D log(2/255) (the bin width in [-1, 1]).
  'vdm': variational dequantization by the model's own q(z_0 | x) and VDM's decoder,
  log P(x) >= E_q[log p_ODE(z_0) + log p(x | z_0) - log q(z_0 | x)]: the bound for a model
  trained on the discrete grid (VDM), exact as the ODE, decoder and q are.
  """
  rng_deq, rng_ode = jax.random.split(rng)
  x = core_likelihood.uint8_to_unit(x_uint8)
  dim = math.prod(x.shape[1:])
  if dequantization == "uniform":
    width = 2.0 / 255.0
    x_cont = x + width * (jax.random.uniform(rng_deq, x.shape) - 0.5)
    logp, nfe = ode_log_likelihood_and_nfe(x_cont, eps_fn, gamma_fn, rng_ode, exact_trace,
                                           **solver_options)
    log_prob = logp + dim * math.log(width)
  elif dequantization == "vdm":
    gamma_0 = gamma_fn(jnp.zeros(()))
    eps = jax.random.normal(rng_deq, x.shape)
    z0 = process.diffuse(x, eps, jnp.full((x.shape[0],), gamma_0))
    logp_z0, nfe = ode_log_prob_z0(z0, eps_fn, gamma_fn, rng_ode, exact_trace,
                                   **solver_options)
    _, sigma_0 = alpha_sigma(gamma_0)
    log_q = jnp.sum((-0.5 * eps**2 - 0.5 * math.log(2 * math.pi) - jnp.log(sigma_0)).reshape(
        x.shape[0], -1), axis=1)
    recon = core_likelihood.vdm_decoder_nll(x_uint8, z0, jnp.full((x.shape[0],), gamma_0))
    log_prob = logp_z0 - jnp.sum(recon.reshape(x.shape[0], -1), axis=1) - log_q
  else:
    raise ValueError(f"eval.ode.dequantization {dequantization!r} is not 'uniform' or 'vdm'")
  return -log_prob / (dim * math.log(2.0)), nfe


def ode_eval_terms(objective, params, batch, rng, conditional=False, **options):
  """Per-example ODE bits per dim of a batch (eval mode with eval.method='ode'), with the
  number of function evaluations; ``options`` as ODE_DEFAULTS (config block eval.ode)."""
  unknown = sorted(set(options) - set(ODE_DEFAULTS))
  if unknown:
    raise ValueError(f"eval.ode: unknown keys {unknown} (valid: {sorted(ODE_DEFAULTS)})")
  opts = dict(ODE_DEFAULTS, **options)
  labels = batch.get("label") if conditional else None
  eps_fn, gamma_fn = objective.ode_fns(params, labels)
  dequantization, exact = opts.pop("dequantization"), opts.pop("exact_trace")
  bpd, nfe = ode_bpd(batch["image"], eps_fn, gamma_fn, rng, dequantization, exact, **opts)
  return {"bpd": bpd, "nfe": jnp.full(bpd.shape, nfe, jnp.float32)}
