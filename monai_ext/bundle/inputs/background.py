"""The intensity image a segmentation was drawn on (the CT under a label map), brought onto the label map's grid.

Per-label runs read a mask, so their montages would show the heatmap over the mask. Given the image the
segmentation was drawn on (a NIfTI/NRRD file or a DICOM series folder), the montages show the heatmap over
that image with the structure outlined. It is only displayed: the bundle never sees it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import ResampleToMatch

from monai_ext.bundle.errors import BundleInputError
from monai_ext.bundle.inputs.channels import GRID_TOLERANCE_MM
from monai_ext.bundle.inputs.source import InputSource, load_input
from monai_ext.explain.display.display_range import display_range

__all__ = ["background_on_grid", "load_background"]


def load_background(source: InputSource, grid: MetaTensor) -> MetaTensor:
    """Load ``source`` and put it on ``grid`` (:func:`background_on_grid`).

    Args:
        source: a NIfTI/NRRD file, a DICOM series folder, or an in-memory volume.
        grid: the label map ``(1, I, J, K)`` with its RAS affine.

    Raises:
        BundleInputError: ``source`` is unreadable or not 3D (names it), or does not overlap ``grid`` (names both).
    """
    return background_on_grid(load_input(source), grid)


def background_on_grid(image: MetaTensor, grid: MetaTensor) -> MetaTensor:
    """``image`` ``(1, I', J', K')`` on the grid of ``grid`` ``(1, I, J, K)``, by world (RAS mm) position.

    An image already on the grid (same shape, affines within 1 µm) is returned as it is. Otherwise it is
    resampled with MONAI's :class:`~monai.transforms.ResampleToMatch` (bilinear); voxels of the grid that it
    does not cover take its lowest value (air for a CT), so they show black.

    Returns:
        ``(1, I, J, K)`` float32 with ``grid``'s affine; ``meta``: ``filename_or_obj`` (the image's),
        ``modality`` (when known), ``resampled`` (bool) and ``window`` (``(black, white)`` for display,
        :func:`~monai_ext.explain.display.display_range.display_range`).

    Raises:
        BundleInputError: no voxel of the grid lies inside the image (names both files and their extents).

    Example:
        >>> grid = MetaTensor(torch.zeros(1, 4, 4, 4), affine=torch.eye(4))
        >>> coarse = MetaTensor(torch.arange(8.0).reshape(1, 2, 2, 2), affine=torch.diag(torch.tensor([2.0, 2, 2, 1])))
        >>> on_grid = background_on_grid(coarse, grid)
        >>> tuple(on_grid.shape), bool(on_grid.meta["resampled"])
        ((1, 4, 4, 4), True)
    """
    meta = {key: image.meta[key] for key in ("filename_or_obj", "modality") if key in image.meta}
    same_shape = tuple(image.shape[1:]) == tuple(grid.shape[1:])
    offset = np.abs(np.asarray(image.affine, dtype=np.float64) - np.asarray(grid.affine, dtype=np.float64))
    if same_shape and float(offset.max()) <= GRID_TOLERANCE_MM:
        return _on_grid(image.as_tensor().float(), grid, meta, resampled=False)
    lowest = float(image.min())
    shifted = image.as_tensor().float() - lowest  # >= 0, and 0 (= lowest) where the image does not reach
    stacked = MetaTensor(torch.cat([shifted, torch.ones_like(shifted)]), affine=torch.as_tensor(image.affine))
    resampled = ResampleToMatch(mode="bilinear", padding_mode="zeros", dtype=np.float32)(stacked, img_dst=grid)
    values = torch.as_tensor(resampled.as_tensor() if isinstance(resampled, MetaTensor) else resampled)
    if float(values[1].max()) <= 0.0:
        raise BundleInputError(
            f"the background image {meta.get('filename_or_obj', 'in-memory volume')} does not overlap the label map "
            f"in world space (it spans {_extent(image)} mm RAS, the label map {_extent(grid)} mm): is it the image "
            "the segmentation was drawn on?",
            str(grid.meta.get("filename_or_obj", "in-memory label map")),
        )
    return _on_grid((values[:1] + lowest).float(), grid, meta, resampled=True)


def _on_grid(values: torch.Tensor, grid: MetaTensor, meta: dict[str, Any], *, resampled: bool) -> MetaTensor:
    """``values`` ``(1, I, J, K)`` with ``grid``'s affine, ``resampled`` and its display ``window`` in ``meta``.

    The window is computed once here: every label's montage and ``result.json`` read it.
    """
    window = display_range(values[0].numpy(), modality=meta.get("modality"))
    extra = {"resampled": resampled, "window": window}
    return MetaTensor(values, affine=torch.as_tensor(grid.affine), meta=meta | extra)


def _extent(volume: MetaTensor) -> str:
    """The world bounding box of the voxel centres, ``[x0, x1] x [y0, y1] x [z0, z1]``."""
    shape = np.asarray(volume.shape[1:], dtype=np.float64) - 1
    corners = np.array(np.meshgrid(*[[0.0, 1.0]] * 3, indexing="ij")).reshape(3, -1).T * shape
    affine = np.asarray(volume.affine, dtype=np.float64)
    world = corners @ affine[:3, :3].T + affine[:3, 3]
    low, high = world.min(axis=0), world.max(axis=0)
    return " x ".join(f"[{a:.0f}, {b:.0f}]" for a, b in zip(low, high, strict=True))
