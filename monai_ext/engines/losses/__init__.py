"""Training losses beyond MONAI's: a consistency term between two views, a reconstruction loss safe under AMP."""

from __future__ import annotations

from monai_ext.engines.losses.consistency import ConsistencyLoss, js_divergence
from monai_ext.engines.losses.reconstruction import ReconstructionLoss

__all__ = ["ConsistencyLoss", "ReconstructionLoss", "js_divergence"]
