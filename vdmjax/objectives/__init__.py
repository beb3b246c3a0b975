"""One module per method: a loss (params, batch, rng) -> (loss, metrics) from core/ and nets/."""
