"""Flax (linen) modules: score networks, schedules, classifier, DD-GAN players."""
