"""Network modules (``nn.Module`` classes only, MONAI argument names)."""

from __future__ import annotations

from monai_ext.networks.classifier import Classifier
from monai_ext.networks.encoder import Encoder

__all__ = ["Classifier", "Encoder"]
