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

``DDGANObjective`` is the method 'ddgan' of the shared loop: it brings its own two optimizers
and its own ``update`` (one discriminator step, then one generator step against the updated
discriminator, as train_ddgan.py alternates them).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from vdmjax.core import guidance, likelihood, process


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


def to_data(x):
  """Images uint8 -> [-1, 1]; float data (the 2-D sets) unchanged."""
  return likelihood.uint8_to_unit(x) if x.dtype == jnp.uint8 else x


class DDGANObjective:
  """Two players, params {'generator', 'discriminator'}, each with its own optax optimizer.

  Eval mode reports, per held-out example, the players' losses on fresh pairs (``d_loss``,
  ``g_loss``), D's accuracy on real and fake pairs, and ``x0_mse``, the generator's error in
  predicting x_0 (a diagnostic: G is not trained to minimise it). A GAN has no held-out metric
  that orders checkpoints, so none is kept as "best" (``best_metric`` None).
  """

  best_metric = None
  num_classes = 0

  def __init__(self, generator, discriminator, tx_g, tx_d, T=4, nz=100, r1_gamma=0.02,
               lazy_reg=15, beta_min=0.1, beta_max=20.0):
    if lazy_reg < 1:
      raise ValueError(f"objective.lazy_reg must be >= 1, got {lazy_reg}")
    self.generator, self.discriminator = generator, discriminator
    self.tx_g, self.tx_d = tx_g, tx_d
    self.T, self.nz, self.r1_gamma, self.lazy_reg = T, nz, r1_gamma, lazy_reg
    self.gammas = chain_gammas(T, beta_min, beta_max)

  # --- players --------------------------------------------------------------------------------

  def g_fn(self, params_g, train=False, rng=None):
    """``(x_{k+1}, k, z) -> x_0`` of the generator."""
    rngs = {"dropout": rng} if train and rng is not None else {}
    return lambda x, k, z: self.generator.apply({"params": params_g}, x, k, z, train=train,
                                                rngs=rngs)

  def d_fn(self, params_d):
    """``(x_k, x_{k+1}, k) -> logits`` of the discriminator."""
    return lambda x, x_next, k: self.discriminator.apply({"params": params_d}, x, x_next, k)

  def init(self, rng, batch):
    x = to_data(batch["image"])
    b = x.shape[0]
    k, z = jnp.zeros((b,), jnp.int32), jnp.zeros((b, self.nz))
    rng_g, rng_d = jax.random.split(rng)
    return {"generator": self.generator.init(rng_g, x, k, z)["params"],
            "discriminator": self.discriminator.init(rng_d, x, x, k)["params"]}

  def init_aux(self):
    return {}

  def optimizer(self):
    """One optax transformation over both players (the loop's opt_state); ``update`` steps
    the players' parts separately."""

    def init(params):
      return {"generator": self.tx_g.init(params["generator"]),
              "discriminator": self.tx_d.init(params["discriminator"])}

    def update(grads, state, params=None):
      out = {name: tx.update(grads[name], state[name], params and params[name])
             for name, tx in (("generator", self.tx_g), ("discriminator", self.tx_d))}
      return {n: u for n, (u, _) in out.items()}, {n: s for n, (_, s) in out.items()}

    return optax.GradientTransformation(init, update)

  # --- training -------------------------------------------------------------------------------

  def _fake_pair(self, rng, params_g, x0, train):
    """(k, x_k real, x_{k+1}, x_k fake): a fresh training pair and G's posterior sample."""
    rng_k, rng_pair, rng_z, rng_post, rng_drop = jax.random.split(rng, 5)
    k = jax.random.randint(rng_k, (x0.shape[0],), 0, self.T)
    x_k, x_kp1 = training_pair(rng_pair, x0, k, self.gammas)
    z = jax.random.normal(rng_z, (x0.shape[0], self.nz))
    x0_pred = self.g_fn(params_g, train, rng_drop)(x_kp1, k, z)
    return k, x_k, x_kp1, posterior_sample(rng_post, x0_pred, x_kp1, k, self.gammas), x0_pred

  def d_loss(self, params_d, params_g, x0, rng, with_r1):
    """D's loss on one batch: real pairs against G's posterior samples (+ R1 if due)."""
    k, x_k, x_kp1, x_fake, _ = self._fake_pair(rng, jax.lax.stop_gradient(params_g), x0, True)
    d = self.d_fn(params_d)
    real, fake = d(x_k, x_kp1, k), d(jax.lax.stop_gradient(x_fake), x_kp1, k)
    loss = discriminator_loss(real, fake)
    r1 = r1_penalty(lambda x: d(x, x_kp1, k), x_k, self.r1_gamma) if with_r1 else 0.0
    return loss + r1, {"d_loss": loss, "r1": jnp.asarray(r1, jnp.float32),
                       "d_real": jnp.mean(real), "d_fake": jnp.mean(fake)}

  def g_loss(self, params_g, params_d, x0, rng):
    """G's non-saturating loss on a fresh batch of pairs against discriminator ``params_d``."""
    k, _, x_kp1, x_fake, _ = self._fake_pair(rng, params_g, x0, True)
    return generator_loss(self.d_fn(params_d)(x_fake, x_kp1, k))

  def update_variant(self, step):
    """Host-side: whether the update of ``step`` carries R1. The loop compiles one update per
    variant rather than branching inside the step: on XLA:CPU the discriminator's convolution
    gradients inside a lax.cond ran 3-4x slower than the same gradients outside one."""
    return bool(lazy_r1_due(int(step), self.lazy_reg))

  def update(self, params, opt_state, aux, batch, rng, step, variant=None):
    """One D step (R1 every ``lazy_reg`` steps: ``variant`` from ``update_variant``, or a
    lax.cond on ``step`` when None), then one G step against the new D:
    (params, opt_state, aux, metrics, grads)."""
    x0 = to_data(batch["image"])
    rng_d, rng_g = jax.random.split(rng)
    pg, pd = params["generator"], params["discriminator"]

    def d_grads(with_r1):
      return lambda: jax.grad(self.d_loss, has_aux=True)(pd, pg, x0, rng_d, with_r1)

    if variant is None:
      grads_d, d_metrics = jax.lax.cond(lazy_r1_due(step, self.lazy_reg), d_grads(True),
                                        d_grads(False))
    else:
      grads_d, d_metrics = d_grads(variant)()
    updates_d, state_d = self.tx_d.update(grads_d, opt_state["discriminator"], pd)
    pd = optax.apply_updates(pd, updates_d)
    g_loss, grads_g = jax.value_and_grad(self.g_loss)(pg, pd, x0, rng_g)
    updates_g, state_g = self.tx_g.update(grads_g, opt_state["generator"], pg)
    pg = optax.apply_updates(pg, updates_g)
    metrics = dict(d_metrics, g_loss=g_loss, loss=d_metrics["d_loss"] + g_loss)
    return ({"generator": pg, "discriminator": pd},
            {"generator": state_g, "discriminator": state_d}, aux, metrics,
            {"generator": grads_g, "discriminator": grads_d})

  # --- evaluation and sampling ----------------------------------------------------------------

  def eval_terms(self, params, batch, rng, conditional=False):
    x0 = to_data(batch["image"])
    k, x_k, x_kp1, x_fake, x0_pred = self._fake_pair(rng, params["generator"], x0, False)
    d = self.d_fn(params["discriminator"])
    real, fake = d(x_k, x_kp1, k), d(x_fake, x_kp1, k)
    flat = lambda a: a.reshape(a.shape[0], -1)
    return {"d_loss": jax.nn.softplus(-real) + jax.nn.softplus(fake),
            "g_loss": jax.nn.softplus(-fake),
            "d_accuracy_real": (real > 0).astype(jnp.float32),
            "d_accuracy_fake": (fake < 0).astype(jnp.float32),
            "x0_mse": jnp.mean(flat(x0_pred - x0) ** 2, axis=1)}

  def sample(self, params, rng, shape, num_steps=0, labels=None, guidance_w=0.0, cond_fn=None,
             **sampler_options):
    """T generator calls from x_T ~ N(0, I); ``num_steps`` must be T (or 0)."""
    if num_steps not in (0, self.T):
      raise ValueError(f"sample.steps = {num_steps}: a DD-GAN samples with its T = {self.T} "
                       "steps (set sample.steps to objective.T)")
    if labels is not None or guidance.is_guided(guidance_w) or cond_fn is not None:
      raise ValueError("a DD-GAN is unconditional: sample.conditional, guidance_w and "
                       "classifier_workdir do not apply")
    return sample(self.g_fn(params["generator"]), rng, shape, self.gammas, self.nz)
