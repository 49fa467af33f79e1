"""Modules: models as trees of layers that own `Parameter`s.

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.FC(784, 400, initializer=init.HeInitializer()), nn.FC(400, 10)]
        def forward(self, x):
            return self.layers[1](F.relu(self.layers[0](x)))

Assigning a `Parameter`, a `Module`, or a list / tuple / dict of them to an attribute
registers it (the containers are walked when asked, so appending later works too).
`named_parameters()` yields dotted names in definition order: `layers.0.W`, `layers.0.B`, ...
Layers are thin Modules over `tinygrad_np.functional`.
"""
from tinygrad_np.nn.module import IncompatibleKeys, Module
from tinygrad_np.nn.layers import FC, Dropout, Flatten, Linear, ReLU, Sigmoid, Softmax, Tanh, Unflatten
from tinygrad_np.nn.containers import ModuleDict, ModuleList, Sequential
from tinygrad_np.nn.loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from tinygrad_np.nn import utils

__all__ = ["Module", "FC", "Linear", "ReLU", "Tanh", "Sigmoid", "Softmax", "Sequential", "ModuleList", "ModuleDict",
           "Flatten", "Dropout", "CrossEntropyLoss", "MSELoss", "BCEWithLogitsLoss", "IncompatibleKeys", "utils"]

from tinygrad_np.nn.conv import AvgPool2d, BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, MaxPool2d  # noqa: E402

__all__ += ["Unflatten", "Conv1d", "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d"]
