"""The GAN bundle's engine: trainer and handlers, seeded sampling, sample quality, the discriminator's realism map."""

from __future__ import annotations

from monai_ext.engines.gan.evaluation import classifier_backbone, evaluate_generator
from monai_ext.engines.gan.handlers import GanProgressBar, NetworkSaver
from monai_ext.engines.gan.realism import realism_map, write_realism_map
from monai_ext.engines.gan.sampling import generate_volumes, sample_latents, save_volumes
from monai_ext.engines.gan.trainer import AmpGanTrainer, gan_loss_output, real_images

__all__ = [
    "AmpGanTrainer",
    "GanProgressBar",
    "NetworkSaver",
    "classifier_backbone",
    "evaluate_generator",
    "gan_loss_output",
    "generate_volumes",
    "real_images",
    "realism_map",
    "sample_latents",
    "save_volumes",
    "write_realism_map",
]
