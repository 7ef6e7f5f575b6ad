"""Network modules (``nn.Module`` classes only, MONAI argument names)."""

from __future__ import annotations

from monai_ext.networks.autoencoder import Autoencoder
from monai_ext.networks.classifier import Classifier
from monai_ext.networks.encoder import Encoder
from monai_ext.networks.gan import Discriminator, Generator

__all__ = ["Autoencoder", "Classifier", "Discriminator", "Encoder", "Generator"]
