"""Datasets: `from tinygrad_np.datasets import mnist; (X, y), (X_test, y_test) = mnist.load_data()`."""
from tinygrad_np.datasets import mnist

__all__ = ["mnist"]
