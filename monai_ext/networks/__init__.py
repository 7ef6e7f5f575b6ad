"""Network modules (``nn.Module`` classes, MONAI argument names) and the stride rule that sizes them."""

from __future__ import annotations

from monai_ext.networks.autoencoder import Autoencoder
from monai_ext.networks.classifier import Classifier
from monai_ext.networks.encoder import Encoder
from monai_ext.networks.gan import Discriminator, Generator
from monai_ext.networks.low_pass import LowPass
from monai_ext.networks.strides import stage_strides

__all__ = ["Autoencoder", "Classifier", "Discriminator", "Encoder", "Generator", "LowPass", "stage_strides"]
