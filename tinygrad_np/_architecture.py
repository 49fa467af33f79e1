"""The network and optimizer a `DeepNeuralNetworkClassifier`'s hyperparameters describe.

A network is planned first, as a list of (kind, sizes) with nothing allocated, so that `load` can
check the number of weights a file's sizes imply before building anything; `build_network` then
makes the `nn.Sequential`.  The tables (`ACTIVATIONS`, `INITIALIZERS`, `OPTIMIZERS`, `MODELS`,
`CNN_CHANNELS`) are the classifier's, which re-exports them.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_np import init, nn, optim

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
INITIALIZERS = ("auto", "he", "xavier", "simple")
# name -> (optimizer class, extra keyword arguments, default lr)
OPTIMIZERS: dict[str, tuple[type, dict[str, Any], float]] = {
    "sgd": (optim.SGD, {}, 0.1),
    "momentum": (optim.SGD, {"momentum": 0.9}, 0.01),
    "nesterov": (optim.SGD, {"momentum": 0.9, "nesterov": True}, 0.01),
    "adagrad": (optim.AdaGrad, {}, 0.01),
    "rmsprop": (optim.RMSProp, {}, 0.001),
    "adam": (optim.Adam, {}, 0.001),
    "adamw": (optim.AdamW, {}, 0.001),
}
EVAL_BATCH = {"mlp": 4096, "cnn": 128}  # rows per forward pass when evaluating whole sets (cache-sized for cnn)
MODELS = ("mlp", "cnn")
CNN_CHANNELS = (16, 32)  # model="cnn": two 3x3 convolutions (padding 1), each followed by a 2x2 max pool

Plan = list[tuple[str, tuple[int, ...]]]


def make_initializer(initializer: Any, activation: str, rng: np.random.Generator, dtype: np.dtype) -> Any:
    """The initializer `initializer` names ("auto": He for ReLU, Xavier otherwise), drawing from
    `rng` in `dtype`; an initializer object is returned as it is."""
    name = initializer
    if not isinstance(name, str):
        return name
    if name == "auto":
        name = "he" if activation == "relu" else "xavier"
    if name == "he":
        return init.HeInitializer(rng=rng, dtype=dtype)
    if name == "xavier":
        return init.XavierInitializer(rng=rng, dtype=dtype)
    return init.SimpleInitializer(0.01, rng=rng, dtype=dtype)


def make_optimizer(optimizer: Any, lr: float | None, params: list) -> Any:
    """The optimizer over `params`: a name in `OPTIMIZERS` (lr None: its default lr) or a factory
    `f(params, lr=...)` (lr None: the factory's own default)."""
    if isinstance(optimizer, str):
        cls, kwargs, default_lr = OPTIMIZERS[optimizer]
        return cls(params, lr=lr if lr is not None else default_lr, **kwargs)
    return optimizer(params) if lr is None else optimizer(params, lr=lr)


def layer_plan(model: str, batch_norm: bool, sizes: tuple[int, ...], n_in: int, n_out: int) -> Plan:
    """The layers as (kind, sizes), nothing allocated: "unflatten" (side,), "conv" (in, out),
    "bn2d" / "bn1d" (channels,), "act", "pool", "flatten", "fc" (n_in, n_out).  `model` is "mlp" or
    "cnn", `sizes` the hidden widths; ValueError when model="cnn" gets rows that are not square images."""
    plan: Plan = []
    if model == "cnn":
        side = int(np.sqrt(n_in))
        if side * side != n_in or side < 4:
            raise ValueError(f"model='cnn' needs rows of square one-channel images (a square number of "
                             f"features >= 16, like MNIST's 784 = 28 x 28), got {n_in} features")
        plan.append(("unflatten", (side,)))
        channels = 1
        for c in CNN_CHANNELS:
            plan += [("conv", (channels, c))] + [("bn2d", (c,))] * bool(batch_norm)
            plan += [("act", ()), ("pool", ())]
            channels, side = c, side // 2
        plan.append(("flatten", ()))
        n_in = channels * side * side
    dims = (n_in, *sizes, n_out)
    for i, (a, b) in enumerate(zip(dims, dims[1:])):
        plan.append(("fc", (a, b)))
        if i < len(dims) - 2:
            plan += [("bn1d", (b,))] * bool(batch_norm) + [("act", ())]
    return plan


def n_weights(plan: Plan) -> int:
    """The number of values in the state dict of the network `plan` describes."""
    sizes = {"conv": lambda a, b: a * 9 * b + b, "fc": lambda a, b: a * b + b,
             "bn2d": lambda c: 4 * c, "bn1d": lambda c: 4 * c}  # BatchNorm: weight, bias, 2 running statistics
    return sum(sizes[kind](*args) for kind, args in plan if kind in sizes)


def build_network(plan: Plan, activation: str, initializer: Any, dtype: np.dtype,
                  rng: np.random.Generator) -> nn.Sequential:
    """The `nn.Sequential` of `plan` in `dtype`, its weights drawn by `initializer` (see
    `make_initializer`) from `rng`."""
    initializer = make_initializer(initializer, activation, rng, dtype)
    make = {"unflatten": lambda side: nn.Unflatten(1, (1, side, side)),
            "conv": lambda a, b: nn.Conv2d(a, b, 3, padding=1, initializer=initializer),
            "bn2d": nn.BatchNorm2d, "bn1d": nn.BatchNorm1d, "act": ACTIVATIONS[activation],
            "pool": lambda: nn.MaxPool2d(2), "flatten": nn.Flatten,
            "fc": lambda a, b: nn.FC(a, b, initializer=initializer)}
    return nn.Sequential(*(make[kind](*args) for kind, args in plan)).to(dtype)


def layout(model: nn.Module) -> list[Any]:
    """What must agree for a network to continue another's training: layer types, weight names,
    shapes and dtypes."""
    return [type(m).__name__ for m in model.modules()] + [(k, v.shape, v.dtype) for k, v in
                                                         model.state_dict().items()]
