"""Reconstruction loss for [0, 1] outputs that is safe under CUDA autocast."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ReconstructionLoss"]


class ReconstructionLoss(nn.Module):
    """``bce_weight * BCE + l1_weight * L1`` between a reconstruction in [0, 1] and its target.

    Computed in float32 with autocast off: ``torch.nn.BCELoss`` refuses to run under CUDA autocast,
    and half precision would saturate ``log`` near 0 and 1.

    Args:
        bce_weight: weight of the binary cross-entropy (masks and [0, 1] intensities).
        l1_weight: weight of the mean absolute error (the anomaly score's own measure).

    Example:
        >>> x = torch.tensor([0.0, 1.0])
        >>> round(float(ReconstructionLoss(bce_weight=0.0, l1_weight=1.0)(torch.tensor([0.5, 0.5]), x)), 3)
        0.5
    """

    def __init__(self, *, bce_weight: float = 1.0, l1_weight: float = 0.0) -> None:
        super().__init__()
        self.bce_weight = float(bce_weight)
        self.l1_weight = float(l1_weight)

    def forward(self, reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Scalar loss for same-shape tensors."""
        device_type = reconstruction.device.type
        with torch.autocast(device_type=device_type, enabled=False):
            pred, tgt = reconstruction.float(), target.float()
            loss = pred.new_zeros(())
            if self.bce_weight:
                loss = loss + self.bce_weight * F.binary_cross_entropy(pred.clamp(1e-6, 1 - 1e-6), tgt)
            if self.l1_weight:
                loss = loss + self.l1_weight * F.l1_loss(pred, tgt)
        return loss
