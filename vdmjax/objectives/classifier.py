"""The noise-aware classifier of classifier guidance (Dhariwal & Nichol 2021, Sec. 4).

ADM's classifier p(c | z_t, noise level) is trained with cross-entropy on z_t ~ q(z_t | x),
t uniform, under the noise process of the diffusion model it will guide, and conditioned on
the same noise input that model's sampler hands its network:

- 'iddpm': a discrete diffusion from ``named_betas(schedule, T)``; the noise input is the
  integer timestep (guided-diffusion's classifier);
- 'vdm': continuous time under a fixed linear or cosine gamma(t) on [gamma_min, gamma_max];
  the sampler hands gamma_t, which the classifier embeds as 1000 (gamma - gamma_min) /
  (gamma_max - gamma_min), VDM's score network's convention. Its gamma range should cover the
  guided model's schedule.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from vdmjax.core import guidance, likelihood, process, schedules
from vdmjax.objectives import iddpm

DIFFUSIONS = ("iddpm", "vdm")


class ClassifierObjective:
  """Cross-entropy of a noise-aware classifier; ``guidance_fn`` gives its gradient to samplers."""

  best_metric = "loss"

  def __init__(self, net, num_classes, diffusion="iddpm", schedule="cosine", T=1000,
               gamma_min=-13.3, gamma_max=5.0):
    if diffusion not in DIFFUSIONS:
      raise ValueError(f"objective.diffusion {diffusion!r} is not one of {DIFFUSIONS}")
    if num_classes < 2:
      raise ValueError(f"model.classifier.num_classes must be >= 2, got {num_classes}")
    self.net, self.num_classes, self.kind = net, num_classes, diffusion
    if diffusion == "iddpm":
      if T < 1:
        raise ValueError(f"objective.T must be >= 1 for an iddpm classifier, got {T}")
      self.diffusion = iddpm.make_diffusion(schedules.named_betas(schedule, T), "fixed_small")
    else:
      if gamma_min >= gamma_max:
        raise ValueError(f"objective.gamma_min ({gamma_min}) must be below gamma_max "
                         f"({gamma_max})")
      kwargs = ({"gamma_min": gamma_min, "gamma_max": gamma_max} if schedule in ("linear",
                                                                                "cosine") else {})
      self.gamma_fn = schedules.get_gamma_fn(schedule, **kwargs)
      self.gamma_min, self.gamma_max = gamma_min, gamma_max

  def noise_cond(self, noise_in):
    """The classifier's embedded noise level from what the sampler hands the model."""
    if self.kind == "iddpm":
      return noise_in
    return 1000.0 * (noise_in - self.gamma_min) / (self.gamma_max - self.gamma_min)

  def noised(self, rng, x):
    """(z_t, noise input) with t uniform: the training inputs."""
    rng_t, rng_n = jax.random.split(rng)
    noise = jax.random.normal(rng_n, x.shape)
    if self.kind == "iddpm":
      t = jax.random.randint(rng_t, (x.shape[0],), 0, self.diffusion.num_timesteps)
      return iddpm.q_sample(self.diffusion, x, t, noise), t
    gamma = self.gamma_fn(jax.random.uniform(rng_t, (x.shape[0],)))
    return process.diffuse(x, noise, gamma), gamma

  def logits(self, params, z, noise_in, train=False, rng=None):
    rngs = {"dropout": rng} if train else {}
    return self.net.apply({"params": params}, z, self.noise_cond(noise_in), train=train,
                          rngs=rngs)

  def init(self, rng, batch):
    x = likelihood.uint8_to_unit(batch["image"])
    return self.net.init(rng, x, jnp.zeros((x.shape[0],)))["params"]

  def init_aux(self):
    return {}

  def _terms(self, logits, labels):
    return {"loss": optax.softmax_cross_entropy_with_integer_labels(logits, labels),
            "accuracy": (jnp.argmax(logits, -1) == labels).astype(jnp.float32)}

  def grads(self, params, aux, batch, rng):
    rng_noise, rng_drop = jax.random.split(rng)
    z, noise_in = self.noised(rng_noise, likelihood.uint8_to_unit(batch["image"]))

    def loss_fn(p):
      terms = self._terms(self.logits(p, z, noise_in, True, rng_drop), batch["label"])
      return jnp.mean(terms["loss"]), terms

    (loss, terms), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    return grads, aux, {"loss": loss, "accuracy": jnp.mean(terms["accuracy"])}

  def eval_terms(self, params, batch, rng, conditional=False):
    """Per-example cross-entropy (nats) and accuracy on noised held-out images."""
    z, noise_in = self.noised(rng, likelihood.uint8_to_unit(batch["image"]))
    return self._terms(self.logits(params, z, noise_in), batch["label"])

  def log_prob_fn(self, params, labels):
    """``(z_t, noise_in) -> log p(labels | z_t)``, shape (B,)."""

    def log_prob(z, noise_in):
      logp = jax.nn.log_softmax(self.logits(params, z, noise_in), axis=-1)
      return jnp.take_along_axis(logp, labels[:, None], axis=-1)[:, 0]

    return log_prob

  def guidance_fn(self, params, labels, scale):
    """``(z_t, noise_in) -> s grad_z log p(labels | z_t)``: the samplers' mean shift or score
    correction (guided-diffusion's cond_fn)."""

    log_prob = self.log_prob_fn(params, labels)
    return lambda z, noise_in: scale * guidance.classifier_log_prob_grad(log_prob, z, noise_in)
