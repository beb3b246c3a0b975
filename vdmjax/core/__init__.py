"""Pure jnp functions: schedules, forward process, likelihood terms, guidance, samplers."""
