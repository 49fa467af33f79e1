"""The primitive ops: one `Function` subclass each, forward and backward side by side.

Every `forward` works on NumPy arrays and returns an array (a view for the shape ops);
every `backward` receives the upstream gradient (an array of the output's shape) and
returns one gradient per positional input.  Gradients may keep a broadcast shape: the graph
(`tinygrad_np.tensor`) sums them back.  `backward` never writes into `grad` or into
a saved array, so a graph kept with `retain_graph=True` can be differentiated again.
"""
from tinygrad_np.ops.checks import check_exponent, is_int, normalize_axis, require_float
from tinygrad_np.ops.elementwise import Abs, Add, Clamp, Div, Exp, Log, Mul, Neg, Pow, ReLU, Sigmoid, Sub, Tanh
from tinygrad_np.ops.linalg import LINEAR_ACTIVATIONS, Linear, MatMul
from tinygrad_np.ops.reduce import Max, Mean, Min, Sum
from tinygrad_np.ops.shape import Cat, Index, Reshape, Transpose, Where
from tinygrad_np.ops.losses import BCEWithLogits, LogSoftmax, Softmax, SoftmaxCrossEntropy

__all__ = ["Add", "Sub", "Mul", "Div", "Neg", "Pow", "Exp", "Log", "Abs", "Clamp", "ReLU", "Tanh", "Sigmoid",
           "MatMul", "Linear", "Sum", "Mean", "Max", "Min", "Reshape", "Transpose", "Index", "Cat", "Where",
           "Softmax", "LogSoftmax", "SoftmaxCrossEntropy", "BCEWithLogits", "LINEAR_ACTIVATIONS",
           "check_exponent", "is_int", "normalize_axis", "require_float"]

from tinygrad_np.ops.conv import AvgPool2d, BatchNorm, Conv1d, Conv2d, MaxPool2d  # noqa: E402

__all__ += ["Conv1d", "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm"]
