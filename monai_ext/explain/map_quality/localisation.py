"""How much of a map lies on a structure: the share of its mass within a distance (mm) of a mask."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["mass_near_mask", "near_mask"]


def near_mask(mask: np.ndarray, spacing: Sequence[float], mm: float) -> np.ndarray:
    """Voxels of an ``(I, J, K)`` grid within ``mm`` (Euclidean, in mm) of ``mask`` (inside counts as 0 mm).

    ``spacing`` is the voxel size along ``I, J, K``; the grid's axes must be orthogonal (any scanner grid is).
    """
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.ascontiguousarray(np.asarray(mask) > 0).transpose(2, 1, 0).astype(np.uint8))
    image.SetSpacing(tuple(float(s) for s in spacing))
    distance = sitk.SignedMaurerDistanceMap(image, insideIsPositive=False, squaredDistance=False, useImageSpacing=True)
    return sitk.GetArrayFromImage(distance).transpose(2, 1, 0) <= mm


def mass_near_mask(heatmap: np.ndarray, mask: np.ndarray, spacing: Sequence[float], *, mm: float = 5.0) -> float:
    """Share of ``heatmap``'s mass (non-negative values) within ``mm`` of ``mask``; 0 for an all-zero map.

    Example:
        >>> m = np.zeros((20, 20, 20)); m[8:12, 8:12, 8:12] = 1
        >>> h = np.zeros_like(m); h[10, 10, 10] = 3.0; h[0, 0, 0] = 1.0
        >>> mass_near_mask(h, m, (1.0, 1.0, 1.0))
        0.75
    """
    weights = np.clip(np.asarray(heatmap, dtype=np.float64), 0, None)
    total = float(weights.sum())
    return float(weights[near_mask(mask, spacing, mm)].sum() / total) if total > 0 else 0.0
