"""Data sources: the embedded MNIST split, tensorflow-datasets by name, toy 2-D sets."""
