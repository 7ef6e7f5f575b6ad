"""A supervised loss plus a Jensen-Shannon consistency term between two views of the same samples."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["ConsistencyLoss", "js_divergence"]


def js_divergence(logits_a: torch.Tensor, logits_b: torch.Tensor) -> torch.Tensor:
    """Mean Jensen-Shannon divergence (nats, 0 to log 2) between the softmaxes of two ``(B, C)`` logit batches."""
    log_p = torch.log_softmax(logits_a.float(), dim=1)
    log_q = torch.log_softmax(logits_b.float(), dim=1)
    log_m = torch.logsumexp(torch.stack([log_p, log_q]), dim=0) - math.log(2.0)
    kl_p = (log_p.exp() * (log_p - log_m)).sum(dim=1)
    kl_q = (log_q.exp() * (log_q - log_m)).sum(dim=1)
    return (0.5 * (kl_p + kl_q)).mean()


class ConsistencyLoss(nn.Module):
    """``loss(pred, target) + weight * JS(softmax(pred[:B]), softmax(pred[B:]))`` on a batch of ``B`` pairs.

    The batch comes from a pairing augmentation such as :class:`~monai_ext.transforms.MaskPairAugment`: rows ``i``
    and ``B + i`` of ``pred`` are two views of sample ``i``. Both views are scored against the label, and their
    class probabilities are pulled together, so the answer does not depend on which view the network sees.

    Args:
        loss: the supervised loss on ``(N, C)`` logits and ``(N,)`` class indices (e.g. cross-entropy).
        weight: weight of the consistency term (AugMix uses 12).

    Example:
        >>> criterion = ConsistencyLoss(loss=nn.CrossEntropyLoss(), weight=12.0)
        >>> logits = torch.tensor([[2.0, 0.0], [2.0, 0.0]])  # one sample, two identical views
        >>> round(float(criterion(logits, torch.tensor([0]))), 4)
        0.1269
    """

    def __init__(self, *, loss: nn.Module, weight: float = 12.0) -> None:
        super().__init__()
        if weight < 0:
            raise ValueError(f"weight must be >= 0, got {weight}")
        self.loss = loss
        self.weight = float(weight)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Loss of ``pred`` ``(2B, C)`` logits (pairs in its two halves) against ``target`` ``(B,)`` or ``(2B,)``.

        Raises:
            ValueError: ``pred`` does not hold an even number of rows, or ``target`` fits neither half nor whole.
        """
        rows = pred.shape[0]
        if pred.ndim != 2 or rows % 2:
            raise ValueError(f"expected (2B, C) logits of B pairs, got shape {tuple(pred.shape)}")
        half = rows // 2
        if target.shape[0] == half:
            target = target.repeat(2)
        elif target.shape[0] != rows:
            raise ValueError(f"target of {target.shape[0]} labels fits neither the {half} pairs nor the {rows} rows")
        return self.loss(pred, target) + self.weight * js_divergence(pred[:half], pred[half:])
