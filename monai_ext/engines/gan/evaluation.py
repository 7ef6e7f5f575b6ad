"""GAN sample quality against real volumes.

Frechet distance on our classifier's features, precision/recall/density/coverage, and MS-SSIM.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from monai_ext.engines.gan.sampling import generate_volumes
from monai_ext.engines.training.best_model import sha256_of
from monai_ext.io.atomic import atomic_write_text

__all__ = ["classifier_backbone", "evaluate_generator"]

logger = logging.getLogger(__name__)


class _WithDistanceChannel(nn.Module):
    """Append the inner distance map of a 1-channel mask before a 2-channel backbone."""

    def __init__(self, backbone: nn.Module, max_distance: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.max_distance = int(max_distance)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from monai_ext.transforms.masks.mask_distance import mask_distance

        return self.backbone(torch.cat([x, mask_distance(x, max_distance=self.max_distance)], dim=1))


def classifier_backbone(
    checkpoint: str | os.PathLike[str] | None,
    *,
    seed: int = 0,
    max_distance: int = 6,
    **classifier_kwargs: Any,
) -> tuple[nn.Module, dict[str, Any]]:
    """The ``backbone`` of a :class:`~monai_ext.networks.Classifier` as a feature network, in eval mode.

    The network takes 1-channel volumes. When the checkpoint's first convolution expects two channels (the
    classifier bundle's mask + inner distance map input), the distance map
    (:func:`~monai_ext.transforms.masks.mask_distance.mask_distance` of ``x > 0.5``) is appended inside the network.

    Args:
        checkpoint: the classifier bundle's ``models/model.pt`` (state dict); ``None`` or a missing file
            gives a randomly initialised 1-channel backbone (seeded), which the description says.
        seed: seed of the random initialisation.
        max_distance: distance (voxels) mapped to 1 in the distance channel.
        classifier_kwargs: :class:`~monai_ext.networks.Classifier` arguments (``in_channels`` is taken from
            the checkpoint).

    Returns:
        ``(feature_network, description)``; the description names the weights and their SHA-256.
    """
    from monai_ext.networks.classifier import Classifier

    state = None
    if checkpoint is not None and Path(checkpoint).is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        first = next(v for k, v in state.items() if k.endswith("weight") and v.ndim >= 4)
        classifier_kwargs["in_channels"] = int(first.shape[1])
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        classifier = Classifier(**classifier_kwargs)
    info: dict[str, Any]
    if state is not None:
        assert checkpoint is not None
        classifier.load_state_dict(state)
        info = {"weights": Path(checkpoint).name, "sha256": sha256_of(checkpoint)}
    else:
        logger.warning("classifier weights %s not found: Frechet features from a random backbone", checkpoint)
        info = {"weights": f"random initialisation (seed {seed}); {checkpoint} not found", "sha256": None}
    network: nn.Module = classifier.backbone
    info["in_channels"] = classifier.backbone.in_channels
    if classifier.backbone.in_channels == 2:
        network = _WithDistanceChannel(network, max_distance)
        info["distance_channel"] = {"max_distance": max_distance, "mask_threshold": 0.5}
    return network.eval(), info


def evaluate_generator(
    *,
    generator: nn.Module,
    real_images: torch.Tensor,
    feature_network: nn.Module,
    feature_info: Mapping[str, Any] | None = None,
    feature_spatial_size: Sequence[int] = (64, 64, 64),
    output_dir: str | os.PathLike[str],
    seed: int = 0,
    k: int = 5,
    ms_ssim_pairs: int = 200,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Measure sample quality against a real-vs-real floor and write ``metrics.json`` (+ ``loss_curves.png``).

    The real volumes are shuffled (``seed``) and split into halves A (reference) and B (held out); as many
    volumes as A holds are generated from ``seed`` and min-max scaled per volume, the preprocessing every real
    volume went through (:func:`~monai_ext.data.cases.preprocess_array`). Reported, with the same sample sizes
    on both sides: Frechet distance (FD) of generated vs A and of B vs A (the floor), k-NN
    precision/recall/density/coverage of each against A, and the mean pairwise MS-SSIM within generated, A
    and B (lower = more diverse).
    ``output_dir/loss_history.json``, when present, is plotted to ``output_dir/loss_curves.png``.

    Args:
        generator: the trained generator.
        real_images: ``(N, 1, *spatial)`` real volumes at the generator's resolution, ``N >= 6``.
        feature_network: e.g. :func:`classifier_backbone`; its pooled output is the feature vector.
        feature_info: description of the feature network, copied into the JSON.
        feature_spatial_size: inputs are resized to this shape (the feature network's training size).
        output_dir: where ``metrics.json`` goes.
        seed: seed of the split, of the latents and of the MS-SSIM pairs.
        k: neighbourhood of precision/recall (reduced when the sets are small).
        ms_ssim_pairs: random pairs per set for MS-SSIM.
        device: where the networks run.

    Returns:
        The metrics written.
    """
    from monai_ext.engines.reports.loss_curves import LossHistory, load_loss_history, plot_loss_curves
    from monai_ext.metrics.generative import extract_features, frechet_distance_from_features, pairwise_ms_ssim, prdc

    if len(real_images) < 6:
        raise ValueError(f"need at least 6 real volumes for a real-vs-real split, got {len(real_images)}")
    order = torch.randperm(len(real_images), generator=torch.Generator().manual_seed(seed))
    half = len(real_images) // 2
    real_a, real_b = real_images[order[:half]].float(), real_images[order[half : 2 * half]].float()
    fake = _min_max(generate_volumes(generator, num_samples=half, seed=seed, device=device))
    feats = {
        name: extract_features(feature_network.to(device), x, spatial_size=feature_spatial_size, device=device)
        for name, x in (("generated", fake), ("real_a", real_a), ("real_b", real_b))
    }
    k = max(1, min(k, half - 1))
    metrics: dict[str, Any] = {
        "fd_generated_vs_real": frechet_distance_from_features(feats["generated"], feats["real_a"]),
        "fd_real_vs_real": frechet_distance_from_features(feats["real_b"], feats["real_a"]),
        "generated_vs_real": prdc(feats["real_a"], feats["generated"], k=k),
        "real_vs_real": prdc(feats["real_a"], feats["real_b"], k=k),
        "ms_ssim_mean": {
            name: pairwise_ms_ssim(x, num_pairs=ms_ssim_pairs, seed=seed)
            for name, x in (("generated", fake), ("real_a", real_a), ("real_b", real_b))
        },
        "num_samples_per_set": half,
        "k": k,
        "seed": seed,
        "feature_network": dict(feature_info or {}),
        "feature_spatial_size": list(feature_spatial_size),
    }
    metrics["fd_ratio"] = metrics["fd_generated_vs_real"] / max(metrics["fd_real_vs_real"], 1e-12)
    out = Path(output_dir)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    history = out / LossHistory.json_name
    if history.is_file():
        plot_loss_curves(load_loss_history(history), out / LossHistory.png_name)
    logger.info(
        "FD generated vs real %.3f (real vs real %.3f)", metrics["fd_generated_vs_real"], metrics["fd_real_vs_real"]
    )
    return metrics


def _min_max(volumes: torch.Tensor) -> torch.Tensor:
    """Scale each ``(C, *spatial)`` volume of a batch to [0, 1] (constant volumes become 0)."""
    flat = volumes.flatten(1)
    low = flat.min(dim=1).values.view(-1, *([1] * (volumes.ndim - 1)))
    high = flat.max(dim=1).values.view(-1, *([1] * (volumes.ndim - 1)))
    return torch.where(high > low, (volumes - low) / (high - low).clamp_min(1e-12), torch.zeros_like(volumes))
