"""Autoencoder post-processing: the reconstruction, its anomaly map and score from an image and its reconstruction.

Used as an autoencoder bundle's ``postprocessing`` so the bundle runner (and so the CLI and Slicer) gets
the outputs the metadata declares without knowing about autoencoders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from monai.transforms import MapTransform, Transform

from monai_ext.explain.anomaly.residual import RECONSTRUCTION_SCORES, reconstruction_score, residual_map
from monai_ext.explain.anomaly.thickness_score import thickness_anomaly_score

__all__ = ["ANOMALY_SCORES", "AnomalyOutputs", "AnomalyOutputsd"]

ANOMALY_SCORES = (*RECONSTRUCTION_SCORES, "thickness")


class AnomalyOutputs(Transform):
    """Anomaly map and score of one image against its reconstruction.

    Args:
        sigma: Gaussian smoothing of the residual, voxels of the network grid.
        scale: residual value mapped to 1 in the map (see :func:`~monai_ext.explain.residual_scale`).
        score: ``"signed"`` (mean of ``image - reconstruction``), ``"mean"`` (mean absolute residual) or
            ``"top"`` (mean of the top ``top_fraction`` voxels of the smoothed residual), as the bundle's evaluation,
            or ``"thickness"`` (:func:`~monai_ext.explain.anomaly.thickness_score.thickness_anomaly_score`: z-scores of
            the thickness excess over the reconstruction and of the mean thickness against normal glands).
        top_fraction: for ``score="top"``.
        normal_mean, normal_std: for ``score="thickness"``: the two features' mean and standard deviation over
            the normal training glands.

    Example:
        >>> amap, value = AnomalyOutputs(scale=0.5)(torch.zeros(1, 8, 8, 8), torch.zeros(1, 8, 8, 8))
        >>> tuple(amap.shape), float(value)
        ((1, 8, 8, 8), 0.0)
    """

    def __init__(
        self,
        *,
        sigma: float = 1.0,
        scale: float = 1.0,
        score: str = "mean",
        top_fraction: float = 0.01,
        normal_mean: Sequence[float] | None = None,
        normal_std: Sequence[float] | None = None,
    ) -> None:
        if score not in ANOMALY_SCORES:
            raise ValueError(f"score must be one of {ANOMALY_SCORES}, got {score!r}")
        if score == "thickness" and (normal_mean is None or normal_std is None):
            raise ValueError("score='thickness' needs normal_mean and normal_std (the normal glands' statistics)")
        self.sigma, self.scale, self.score, self.top_fraction = float(sigma), float(scale), score, float(top_fraction)
        self.normal_mean, self.normal_std = normal_mean, normal_std

    def __call__(  # type: ignore[override]  # two inputs, as MONAI's own pairwise transforms
        self, image: torch.Tensor, reconstruction: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``image`` and ``reconstruction`` ``(C, *spatial)`` -> map ``(1, *spatial)`` in [0, 1], score ``()``."""
        x = torch.as_tensor(image).as_subclass(torch.Tensor).float()[None]
        y = torch.as_tensor(reconstruction).as_subclass(torch.Tensor).float().to(x.device)[None]
        amap = residual_map(x, y, sigma=self.sigma, scale=self.scale)[0]
        if self.score == "thickness":
            assert self.normal_mean is not None and self.normal_std is not None
            value = thickness_anomaly_score(x, y, mean=self.normal_mean, std=self.normal_std)
        else:
            value = reconstruction_score(x, y, score=self.score, sigma=self.sigma, top_fraction=self.top_fraction)
        return amap, value[0]


class AnomalyOutputsd(MapTransform):
    """Adds ``reconstruction`` (a copy of ``pred``), ``anomaly_map`` and ``anomaly_score`` to the dictionary."""

    def __init__(
        self,
        *,
        image_key: str = "image",
        pred_key: str = "pred",
        sigma: float = 1.0,
        scale: float = 1.0,
        score: str = "mean",
        top_fraction: float = 0.01,
        normal_mean: Sequence[float] | None = None,
        normal_std: Sequence[float] | None = None,
    ) -> None:
        super().__init__([image_key, pred_key])
        self.image_key, self.pred_key = image_key, pred_key
        self.transform = AnomalyOutputs(
            sigma=sigma,
            scale=scale,
            score=score,
            top_fraction=top_fraction,
            normal_mean=normal_mean,
            normal_std=normal_std,
        )

    def __call__(self, data: Mapping[Any, Any]) -> dict[Any, Any]:
        out = dict(data)
        reconstruction = torch.as_tensor(out[self.pred_key]).as_subclass(torch.Tensor).float()
        out["reconstruction"] = reconstruction
        out["anomaly_map"], out["anomaly_score"] = self.transform(out[self.image_key], reconstruction)
        return out
