"""tinygrad_np: a small, fast, exact reverse-mode autograd framework on NumPy."""
from tinygrad_np.tensor import Function, Parameter, Tensor, is_grad_enabled, no_grad

__all__ = ["Tensor", "Parameter", "Function", "no_grad", "is_grad_enabled"]
__version__ = "0.1.0"
