"""Optimizers with `torch.optim`'s update rules and defaults, applied in place.

    opt = optim.Adam(model.parameters(), lr=1e-3)
    for X, y in batches:
        opt.zero_grad()
        F.softmax_cross_entropy(model(Tensor(X)), y).backward()
        opt.step()

Parameter groups work as in PyTorch: pass dicts such as
`[{"params": head.parameters(), "lr": 0.1}, {"params": body.parameters()}]`; keys not
given come from the optimizer's defaults.  `state_dict()` / `load_state_dict()` round-trip
everything a later `step()` reads, so resumed training is bit-identical.

Each optimizer is one rule, a plain function over one parameter's arrays whose docstring
is its formula (`sgd`, `adagrad`, `rmsprop`, `adam`, `adamw`), and a small class.  The rules
write into `p.data` and the state with `out=` ufuncs through a scratch array, folding scalar
factors so each makes the fewest passes over the weights NumPy allows, and end with one BLAS
`axpy` pass for `p -= lr * step` (`tinygrad_np._blas`).  Scalars stay Python floats, so
float32 weights stay float32.
"""
from tinygrad_np.optim import lr_scheduler
from tinygrad_np.optim.adagrad import AdaGrad, Adagrad, adagrad
from tinygrad_np.optim.adam import Adam, AdamW, adam, adamw
from tinygrad_np.optim.lr_scheduler import (CosineAnnealingLR, ExponentialLR, LinearLR, LRScheduler, MultiStepLR,
                                            OneCycleLR, ReduceLROnPlateau, StepLR)
from tinygrad_np.optim.optimizer import Optimizer
from tinygrad_np.optim.rmsprop import RMSProp, RMSprop, rmsprop
from tinygrad_np.optim.sgd import SGD, sgd

__all__ = ["Optimizer", "SGD", "AdaGrad", "Adagrad", "RMSProp", "RMSprop", "Adam", "AdamW",
           "sgd", "adagrad", "rmsprop", "adam", "adamw",
           "LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "LinearLR", "CosineAnnealingLR", "OneCycleLR",
           "ReduceLROnPlateau", "lr_scheduler"]
