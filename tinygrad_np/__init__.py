"""tinygrad_np: a small, fast, exact reverse-mode autograd framework on NumPy.

    from tinygrad_np import Tensor, Parameter, no_grad, Function, nn, optim, init
    import tinygrad_np.functional as F
"""
from tinygrad_np._malloc import tune_malloc
from tinygrad_np.tensor import Function, Parameter, Tensor, is_grad_enabled, no_grad
from tinygrad_np import functional, init, nn, optim  # noqa: E402  (after Tensor: they build on it)
from tinygrad_np.classifier import DeepNeuralNetworkClassifier

__all__ = ["Tensor", "Parameter", "Function", "no_grad", "is_grad_enabled",
           "functional", "nn", "optim", "init", "DeepNeuralNetworkClassifier"]
__version__ = "0.1.0"

tune_malloc()
