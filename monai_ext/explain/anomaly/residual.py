"""Anomaly maps and scores from an autoencoder's reconstruction residual.

The residual ``|x - reconstruction|`` is smoothed with a Gaussian (``sigma`` in voxels of the network
grid) and divided by a fixed ``scale`` (a high percentile of the smoothed residual of normal cases, see
:func:`residual_scale`), then clipped to [0, 1]: 1 means "at least as strong as the strongest residual of
almost every normal case", so maps of different cases are comparable (a per-volume maximum would make
every map, even a perfect one, reach 1). Maps stay in the voxel grid of the tensors given; bring them back
to an input file's grid with :func:`monai_ext.engines.reports.anomaly_maps.to_input_grid`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from monai.transforms import GaussianSmooth

__all__ = [
    "RECONSTRUCTION_SCORES",
    "anomaly_score",
    "reconstruction_score",
    "residual",
    "residual_map",
    "residual_scale",
    "signed_residual_score",
]

RECONSTRUCTION_SCORES = ("mean", "top", "signed")


def residual(image: torch.Tensor, reconstruction: torch.Tensor, *, sigma: float = 1.0) -> torch.Tensor:
    """Smoothed absolute residual, unscaled.

    Args:
        image: ``(B, C, *spatial)`` input.
        reconstruction: the same shape.
        sigma: Gaussian standard deviation in voxels (``0``: no smoothing).

    Returns:
        ``(B, 1, *spatial)`` float32 (channels averaged), >= 0.
    """
    if image.shape != reconstruction.shape:
        raise ValueError(f"image {tuple(image.shape)} and reconstruction {tuple(reconstruction.shape)} differ")
    diff = (image.float() - reconstruction.float()).abs().mean(dim=1, keepdim=True)
    if sigma > 0:
        smooth = GaussianSmooth(sigma=float(sigma))
        diff = torch.stack([torch.as_tensor(smooth(d)).as_subclass(torch.Tensor) for d in diff])
    return diff.clamp_min(0.0)


def residual_map(
    image: torch.Tensor, reconstruction: torch.Tensor, *, sigma: float = 1.0, scale: float = 1.0
) -> torch.Tensor:
    """Anomaly map in [0, 1] (high = abnormal): :func:`residual` divided by ``scale`` and clipped.

    Args:
        image: ``(B, C, *spatial)`` input in [0, 1].
        reconstruction: the same shape.
        sigma: Gaussian standard deviation in voxels.
        scale: residual value mapped to 1 (positive).

    Returns:
        ``(B, 1, *spatial)`` float32 in [0, 1].

    Example:
        >>> x = torch.zeros(1, 1, 8, 8, 8)
        >>> float(residual_map(x, x).max())
        0.0
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    return (residual(image, reconstruction, sigma=sigma) / float(scale)).clamp(0.0, 1.0)


def anomaly_score(res: torch.Tensor, *, top_fraction: float | None = None) -> torch.Tensor:
    """One score per volume from a residual or map ``(B, C, *spatial)``: the mean, or the mean of the
    highest ``top_fraction`` of voxels (e.g. ``0.01``).

    Returns:
        ``(B,)`` float32, higher = more abnormal.
    """
    flat = res.float().reshape(res.shape[0], -1)
    if top_fraction is None:
        return flat.mean(dim=1)
    if not 0.0 < top_fraction <= 1.0:
        raise ValueError(f"top_fraction must be in (0, 1], got {top_fraction}")
    k = max(1, round(flat.shape[1] * top_fraction))
    return flat.topk(k, dim=1).values.mean(dim=1)


def residual_scale(maxima: Sequence[float] | np.ndarray, *, percentile: float = 99.0) -> float:
    """The ``scale`` for :func:`residual_map`: a percentile of the per-case maxima of :func:`residual`
    over normal cases (so about ``100 - percentile`` % of normal cases reach 1 somewhere).

    Example:
        >>> residual_scale([0.1, 0.2, 0.4], percentile=50)
        0.2
    """
    values = np.asarray(maxima, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no residual maxima given")
    return float(max(np.percentile(values, percentile), 1e-6))


def signed_residual_score(image: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
    """Mean signed residual ``image - reconstruction`` per volume of ``(B, C, *spatial)``: ``(B,)``.

    Positive when the input holds more foreground than the autoencoder reconstructs. An autoencoder trained
    on normal glands reconstructs an enlarged gland smaller, so this is the score that measures enlargement
    (hyperplasia); the absolute residual also counts the boundary blur of every case.

    Example:
        >>> float(signed_residual_score(torch.ones(1, 1, 2, 2, 2), torch.zeros(1, 1, 2, 2, 2))[0])
        1.0
    """
    return (image.float() - reconstruction.float()).reshape(image.shape[0], -1).mean(dim=1)


def reconstruction_score(
    image: torch.Tensor, reconstruction: torch.Tensor, *, score: str, sigma: float = 1.0, top_fraction: float = 0.01
) -> torch.Tensor:
    """One of the :data:`RECONSTRUCTION_SCORES` per volume of ``(B, C, *spatial)``: ``(B,)``, higher = more abnormal.

    ``"mean"``: mean absolute residual; ``"top"``: mean of the highest ``top_fraction`` voxels of the residual
    smoothed with ``sigma``; ``"signed"``: :func:`signed_residual_score`.

    Raises:
        ValueError: unknown ``score``.

    Example:
        >>> x = torch.ones(1, 1, 4, 4, 4)
        >>> float(reconstruction_score(x, torch.zeros_like(x), score="mean")[0])
        1.0
    """
    if score == "signed":
        return signed_residual_score(image, reconstruction)
    if score == "mean":
        return anomaly_score(residual(image, reconstruction, sigma=0.0))
    if score == "top":
        return anomaly_score(residual(image, reconstruction, sigma=sigma), top_fraction=top_fraction)
    raise ValueError(f"score must be one of {RECONSTRUCTION_SCORES}, got {score!r}")
