"""tinygrad_np: a small, fast, exact reverse-mode autograd framework on NumPy.

    from tinygrad_np import Tensor, Parameter, no_grad, Function, nn, optim, init
    import tinygrad_np.functional as F

Importing it changes nothing in the process: `tune_malloc()` and `set_num_threads(n)` are
there to call, as the command-line application does.
"""
from tinygrad_np._malloc import tune_malloc
from tinygrad_np._threads import get_num_threads, set_num_threads
from tinygrad_np.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from tinygrad_np.tensor import Function, Parameter, Tensor
from tinygrad_np import functional, init, nn, optim  # noqa: E402  (after Tensor: they build on it)
from tinygrad_np._random import manual_seed
from tinygrad_np.creation import arange, ones, rand, randn, zeros
from tinygrad_np.functional import cat, stack, where
from tinygrad_np.classifier import DeepNeuralNetworkClassifier
from tinygrad_np.jit import jit  # noqa: E402  (the function; the module stays importable as tinygrad_np.jit)

__all__ = ["Tensor", "Parameter", "Function", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "functional", "nn", "optim", "init", "DeepNeuralNetworkClassifier",
           "tune_malloc", "set_num_threads", "get_num_threads", "manual_seed",
           "zeros", "ones", "randn", "rand", "arange", "cat", "stack", "where", "jit"]
__version__ = "0.1.0"
