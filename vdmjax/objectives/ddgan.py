"""Denoising Diffusion GAN (Xiao et al. 2022; NVlabs/denoising-diffusion-gan): the few-step
chain and the two players' losses as pure functions, in the gamma notation.

The paper's code discretises the VP SDE with beta(t) = beta_min + t (beta_max - beta_min) on
t_k = k/T (1 - 1e-3) + 1e-3, k = 0..T: var(t) = 1 - exp(-t^2 (beta_max - beta_min)/2 -
t beta_min), betas_k = 1 - alphabar(t_k) / alphabar(t_{k-1}), with the first beta replaced by
1e-8. Its latent x_k therefore has alphabar_k = (1 - 1e-8) alphabar(t_k) / alphabar(t_0): x_0
is the data up to noise of variance 1e-8. ``chain_gammas`` returns gamma_k = log((1 -
alphabar_k) / alphabar_k) for k = 0..T. Training pairs are (x_k, x_{k+1}) with k uniform in
[0, T); the generator predicts x_0 from x_{k+1}, and x_k is drawn from the posterior
q(x_k | x_{k+1}, x_0) (its mean at k = 0, as the paper's code does).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from vdmjax.core import process


def chain_gammas(T, beta_min=0.1, beta_max=20.0, eps_small=1e-3):
  """gamma_k, k = 0..T, of the paper code's discretised VP schedule (float32, from float64)."""
  if T < 1:
    raise ValueError(f"objective.T must be >= 1 for DD-GAN, got {T}")
  t = np.arange(T + 1, dtype=np.float64) / T * (1.0 - eps_small) + eps_small
  log_alphabar = -0.5 * t**2 * (beta_max - beta_min) - t * beta_min
  log_alphabar = np.log1p(-1e-8) + log_alphabar - log_alphabar[0]
  gamma = np.log(-np.expm1(log_alphabar)) - log_alphabar
  return jnp.asarray(gamma, jnp.float32)


def training_pair(rng, x0, k, gammas):
  """(x_k, x_{k+1}) ~ q(x_k | x_0) q(x_{k+1} | x_k) for per-example step indices k."""
  rng_k, rng_next = jax.random.split(rng)
  x_k = process.diffuse(x0, jax.random.normal(rng_k, x0.shape), gammas[k])
  mean, var = process.q_zt_given_zs(x_k, gammas[k + 1], gammas[k])
  return x_k, mean + jnp.sqrt(var) * jax.random.normal(rng_next, x0.shape)


def posterior_sample(rng, x0_pred, x_kp1, k, gammas):
  """x_k ~ q(x_k | x_{k+1}, x_0 = x0_pred); the posterior mean where k = 0."""
  mean, var = process.q_zs_given_zt_x(x_kp1, x0_pred, gammas[k + 1], gammas[k])
  nonzero = process._bcast((k > 0).astype(x_kp1.dtype), x_kp1)
  return mean + nonzero * jnp.sqrt(var) * jax.random.normal(rng, x_kp1.shape)


def discriminator_loss(real_logits, fake_logits):
  """Non-saturating GAN loss of D: softplus(-D(real)) + softplus(D(fake)), batch means."""
  return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))


def generator_loss(fake_logits):
  """Non-saturating GAN loss of G: softplus(-D(fake)), batch mean."""
  return jnp.mean(jax.nn.softplus(-fake_logits))


def r1_penalty(d_fn, x_real, r1_gamma):
  """R1 (Mescheder et al. 2018): r1_gamma / 2 E ||grad_x D(x_real)||^2, the gradient taken
  with respect to the real input x_k only (the conditioning x_{k+1} held fixed)."""
  grad = jax.grad(lambda x: jnp.sum(d_fn(x)))(x_real)
  return 0.5 * r1_gamma * jnp.mean(jnp.sum(grad.reshape(grad.shape[0], -1) ** 2, axis=1))


def lazy_r1_due(step, lazy_reg):
  """Whether the R1 penalty is applied at ``step`` (every ``lazy_reg`` steps, the paper's
  `global_step % lazy_reg == 0`)."""
  return step % lazy_reg == 0


def sample(generator_fn, rng, shape, gammas, nz):
  """x_T ~ N(0, I), then T steps x_k ~ q(x_k | x_{k+1}, G(x_{k+1}, k, z)) with a fresh z at
  each step, in one lax.scan; ``generator_fn(x_{k+1}, k, z) -> x_0``."""
  T = gammas.shape[0] - 1
  rng_init, rng_loop = jax.random.split(rng)

  def step(x, k):
    rng_z, rng_post = jax.random.split(jax.random.fold_in(rng_loop, k))
    ks = jnp.full((shape[0],), k)
    x0 = generator_fn(x, ks, jax.random.normal(rng_z, (shape[0], nz)))
    return posterior_sample(rng_post, x0, x, ks, gammas), None

  x, _ = jax.lax.scan(step, jax.random.normal(rng_init, shape), jnp.arange(T - 1, -1, -1))
  return x
