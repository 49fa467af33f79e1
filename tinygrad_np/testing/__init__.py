"""Tools to prove gradients right: `gradcheck`, and hypothesis strategies in `.strategies`."""
from tinygrad_np.testing.gradcheck import gradcheck, numerical_grad

__all__ = ["gradcheck", "numerical_grad"]
