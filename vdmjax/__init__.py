"""vdmjax: diffusion models (VDM, Improved DDPM, guidance, DD-GAN) in JAX/Flax, in one notation.

The notation is VDM's: ``gamma(t) = -log SNR(t)``, ``alpha^2 = sigmoid(-gamma)``,
``sigma^2 = sigmoid(gamma)``, ``z_t = alpha_t x + sigma_t eps``. See DESIGN.md.
"""

__version__ = "0.1.0"
