"""Loss modules with PyTorch's names, over the functional losses."""
from __future__ import annotations

from typing import Any

from tinygrad_np import functional as F
from tinygrad_np.nn.module import _Leaf
from tinygrad_np.tensor import Tensor

__all__ = ["CrossEntropyLoss", "MSELoss", "BCEWithLogitsLoss"]


class CrossEntropyLoss(_Leaf):
    """`loss(logits, target)` = `F.cross_entropy(logits, target, reduction, label_smoothing)`:
    logits (N, C), target labels (N,) or probabilities (N, C)."""

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.reduction, self.label_smoothing = reduction, label_smoothing

    def forward(self, logits: Any, target: Any) -> Tensor:
        return F.cross_entropy(logits, target, self.reduction, self.label_smoothing)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, label_smoothing={self.label_smoothing}"


class MSELoss(_Leaf):
    """`loss(input, target)` = `F.mse_loss(input, target, reduction)` (same shapes)."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.mse_loss(input, target, self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class BCEWithLogitsLoss(_Leaf):
    """`loss(logits, target)` = `F.binary_cross_entropy_with_logits(logits, target, reduction, pos_weight)`."""

    def __init__(self, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__()
        self.reduction, self.pos_weight = reduction, pos_weight

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.reduction, self.pos_weight)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"
