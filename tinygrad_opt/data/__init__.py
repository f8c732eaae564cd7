"""Small synthetic datasets, generated on the spot (nothing is downloaded)."""

from tinygrad_opt.data.datasets import make_moons, train_test_split

__all__ = ["make_moons", "train_test_split"]
