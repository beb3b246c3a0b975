"""Likelihood evaluation, image grids."""
