"""Put 1 mm shape masks (AdrenalMNIST3D cubes) onto a scanner-like grid: thick slices, oblique, any position.

This is how the checks (tests, ``benchmarks/bench_adrenal_embedding.py``) and the demo make a label map like one
a user segments on an abdominal CT: a 0.7 x 0.7 x 2.5 mm grid of 300 x 300 x 120 voxels tilted against the patient
axes, with one or two glands placed anywhere in it. Each cube is resampled onto that grid with trilinear
interpolation and a 0.5 threshold (the scanner grid's own segmentation of the same shape).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import SpatialResample

__all__ = ["PlacedMask", "embed_masks", "scanner_affine"]


def _rotation(degrees: Sequence[float]) -> np.ndarray:
    """Rotation about the R, A and S axes in turn (degrees)."""
    rx, ry, rz = np.radians(np.asarray(degrees, dtype=np.float64))
    x = np.array([[1, 0, 0], [0, np.cos(rx), -np.sin(rx)], [0, np.sin(rx), np.cos(rx)]])
    y = np.array([[np.cos(ry), 0, np.sin(ry)], [0, 1, 0], [-np.sin(ry), 0, np.cos(ry)]])
    z = np.array([[np.cos(rz), -np.sin(rz), 0], [np.sin(rz), np.cos(rz), 0], [0, 0, 1]])
    return z @ y @ x


def scanner_affine(
    *,
    shape: Sequence[int] = (300, 300, 120),
    spacing: Sequence[float] = (0.7, 0.7, 2.5),
    degrees: Sequence[float] = (12.0, -7.0, 20.0),
    centre: Sequence[float] = (0.0, 0.0, 0.0),
) -> np.ndarray:
    """RAS voxel-to-world matrix of an axial scanner grid in DICOM (LPS) voxel order, tilted by ``degrees``.

    The voxel axes run towards L, P and S before the rotation (as a CT series stored in NIfTI index order),
    the grid's centre lies at ``centre`` (RAS mm).

    Example:
        >>> a = scanner_affine(degrees=(0, 0, 0))
        >>> np.round(np.linalg.norm(a[:3, :3], axis=0), 3).tolist(), np.sign(np.diag(a)[:3]).tolist()
        ([0.7, 0.7, 2.5], [-1.0, -1.0, 1.0])
    """
    axes = np.diag([-1.0, -1.0, 1.0]) * np.asarray(spacing, dtype=np.float64)
    affine = np.eye(4)
    affine[:3, :3] = _rotation(degrees) @ axes
    middle = (np.asarray(shape, dtype=np.float64) - 1) / 2
    affine[:3, 3] = np.asarray(centre, dtype=np.float64) - affine[:3, :3] @ middle
    return affine


@dataclass(frozen=True, kw_only=True)
class PlacedMask:
    """One shape to embed.

    Attributes:
        mask: ``(D, H, W)`` mask of the cube, axes along R, A, S at ``spacing`` mm (values > 0.5 inside).
        centre: world position (RAS mm) of the cube's centre voxel ``(n - 1) / 2``.
        spacing: the cube's voxel size, mm.
    """

    mask: np.ndarray
    centre: Sequence[float]
    spacing: float = 1.0


def embed_masks(
    masks: Mapping[int, PlacedMask], affine: np.ndarray, shape: Sequence[int], *, threshold: float = 0.5
) -> np.ndarray:
    """A label map ``(I, J, K)`` (uint8) on the grid ``affine``/``shape`` holding each mask under its value.

    Later masks overwrite earlier ones where they overlap.

    Example:
        >>> cube = np.zeros((16, 16, 16)); cube[4:12, 4:12, 4:12] = 1
        >>> grid = scanner_affine(shape=(40, 40, 12), degrees=(0, 0, 0))
        >>> lm = embed_masks({3: PlacedMask(mask=cube, centre=(0, 0, 0))}, grid, (40, 40, 12))
        >>> sorted(np.unique(lm).tolist()), lm.dtype
        ([0, 3], dtype('uint8'))
    """
    out = np.zeros(tuple(int(s) for s in shape), dtype=np.uint8)
    resample = SpatialResample(mode="bilinear", padding_mode="zeros", dtype=np.float64)
    target = torch.as_tensor(affine, dtype=torch.float64)
    for value, placed in masks.items():
        cube = np.ascontiguousarray(placed.mask, dtype=np.float32)
        cube_affine = np.diag([placed.spacing, placed.spacing, placed.spacing, 1.0])
        cube_affine[:3, 3] = (
            np.asarray(placed.centre, dtype=np.float64) - placed.spacing * (np.array(cube.shape) - 1) / 2
        )
        source = MetaTensor(torch.from_numpy(cube)[None], affine=torch.as_tensor(cube_affine))
        sampled = torch.as_tensor(resample(source, dst_affine=target, spatial_size=out.shape))[0].numpy()
        out[sampled >= threshold] = int(value)
    return out
