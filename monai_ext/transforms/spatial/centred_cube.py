"""Resample a volume onto a RAS-aligned cube centred on its centre of mass: the MedMNIST 3D crop recipe.

AdrenalMNIST3D cases are a 64 mm cube at 1 mm around the centre of an adrenal gland segmented on CT. This
transform makes the same cube from any scanner grid in one interpolation: the cube's axes run along R, A and S
(whatever the obliquity of the source), its voxels are ``spacing`` mm, the foreground's centre of mass lies at
``centre_voxel`` and space outside the source image is zero. It is MONAI-invertible: the inverse (``Compose.inverse``,
``Invertd``) resamples a map of the cube (a heatmap, an anomaly map) back onto the source grid and affine.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import InvertibleTransform, MapTransform, SpatialResample
from monai.utils import ensure_tuple_rep

__all__ = ["CentredCube", "CentredCubed", "centre_of_mass", "cube_affine"]


def as_meta(img: torch.Tensor | np.ndarray) -> MetaTensor:
    """``img`` as a MetaTensor; a plain array or tensor gets the identity affine (1 mm voxels along R, A, S)."""
    return img if isinstance(img, MetaTensor) else MetaTensor(torch.as_tensor(img))


def centre_of_mass(img: torch.Tensor | np.ndarray) -> np.ndarray:
    """World position (mm, the MetaTensor's space) of the value-weighted centre of the first channel.

    Args:
        img: ``(C, I, J, K)`` with its voxel-to-world ``affine`` (a plain tensor: identity); negative values count
            as zero.

    Raises:
        ValueError: the first channel holds no positive value.

    Example:
        >>> m = MetaTensor(torch.zeros(1, 5, 5, 5), affine=torch.diag(torch.tensor([2.0, 2.0, 2.0, 1.0])))
        >>> m[0, 1, 2, 3] = 1.0
        >>> centre_of_mass(m).tolist()
        [2.0, 4.0, 6.0]
    """
    img = as_meta(img)
    weights = img.as_tensor()[0].double().clamp(min=0)
    total = float(weights.sum())
    if total <= 0:
        raise ValueError("the mask is empty: no foreground to centre the cube on")
    axes = [torch.arange(n, dtype=torch.float64) for n in weights.shape]
    voxel = [float((weights.sum(dim=tuple(d for d in range(3) if d != a)) * axes[a]).sum()) / total for a in range(3)]
    affine = np.asarray(img.affine, dtype=np.float64)
    return (affine @ np.array([*voxel, 1.0]))[:3]


def cube_affine(
    centre: Sequence[float] | np.ndarray, spacing: Sequence[float], centre_voxel: Sequence[float], space: str
) -> np.ndarray:
    """Voxel-to-world matrix of the cube: axes along R, A, S, ``spacing`` mm, ``centre_voxel`` at ``centre``.

    In an LPS MetaTensor space the R and A axes are the negated first two world axes.
    """
    signs = np.array([-1.0, -1.0, 1.0]) if str(space).upper() == "LPS" else np.ones(3)
    affine = np.eye(4)
    affine[:3, :3] = np.diag(signs * np.asarray(spacing, dtype=np.float64))
    affine[:3, 3] = np.asarray(centre, dtype=np.float64) - affine[:3, :3] @ np.asarray(centre_voxel, dtype=np.float64)
    return affine


def _snap(affine: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Shift the cube onto the source's voxel grid when both grids share axes and spacing: an exact crop.

    A 1 mm RAS input (an AdrenalMNIST3D case itself) is then cropped, not interpolated; the centre of mass lands
    within half a voxel of ``centre_voxel``, as in the dataset.
    """
    if not np.allclose(affine[:3, :3], source[:3, :3], atol=1e-6):
        return affine
    offset = np.linalg.solve(source[:3, :3], affine[:3, 3] - source[:3, 3])
    snapped = affine.copy()
    snapped[:3, 3] = source[:3, 3] + source[:3, :3] @ np.round(offset)
    return snapped


class CentredCube(InvertibleTransform):
    """``(C, I, J, K)`` on any grid -> ``(C, *spatial_size)`` on a RAS cube centred on the foreground.

    Args:
        spatial_size: the cube in voxels, e.g. ``(64, 64, 64)``.
        spacing: voxel size in mm along R, A, S.
        centre_voxel: the cube voxel (fractional index) where the centre of mass lands; default the middle,
            ``(n - 1) / 2``. AdrenalMNIST3D puts it at index 32.5 of 0..63 (measured on its 1286 train/val cases).
            When the source grid has the cube's axes and spacing, the cube is snapped onto it (an exact crop).
        mode: interpolation, ``"bilinear"`` (trilinear in 3D) or ``"nearest"``.
        threshold: binarise after resampling (``>= threshold`` -> 1): linear interpolation then a 0.5 threshold
            resamples a mask without staircases. ``None`` keeps the interpolated values.

    Example:
        >>> img = MetaTensor(torch.zeros(1, 30, 30, 12), affine=torch.diag(torch.tensor([0.7, 0.7, 2.5, 1.0])))
        >>> img[0, 10:20, 10:20, 4:8] = 1.0
        >>> t = CentredCube(spatial_size=(16, 16, 16), threshold=0.5)
        >>> cube = t(img)
        >>> tuple(cube.shape), cube.affine.diagonal().tolist()
        ((1, 16, 16, 16), [1.0, 1.0, 1.0, 1.0])
        >>> tuple(t.inverse(cube).shape)
        (1, 30, 30, 12)
    """

    def __init__(
        self,
        *,
        spatial_size: Sequence[int] = (64, 64, 64),
        spacing: Sequence[float] | float = 1.0,
        centre_voxel: Sequence[float] | None = None,
        mode: str = "bilinear",
        threshold: float | None = None,
    ) -> None:
        self.spatial_size = tuple(int(s) for s in ensure_tuple_rep(spatial_size, 3))
        self.spacing = tuple(float(s) for s in ensure_tuple_rep(spacing, 3))
        if min(self.spatial_size) < 1 or min(self.spacing) <= 0:
            raise ValueError(f"spatial_size and spacing must be positive, got {spatial_size} and {spacing}")
        middle = [(n - 1) / 2 for n in self.spatial_size]
        self.centre_voxel = tuple(float(c) for c in (middle if centre_voxel is None else centre_voxel))
        self.threshold = threshold
        self._resample = SpatialResample(mode=mode, padding_mode="zeros", align_corners=False, dtype=np.float64)

    def __call__(self, img: torch.Tensor, centre: Sequence[float] | np.ndarray | None = None) -> MetaTensor:
        """Resample ``img`` (a MetaTensor with its affine; a plain tensor: identity) onto the cube around ``centre``.

        ``centre`` is in world mm.

        ``centre`` defaults to :func:`centre_of_mass` of ``img``'s first channel.
        """
        img = as_meta(img)
        world = centre_of_mass(img) if centre is None else np.asarray(centre, dtype=np.float64)
        space = str(img.meta.get("space", "RAS"))
        affine = _snap(cube_affine(world, self.spacing, self.centre_voxel, space), np.asarray(img.affine, np.float64))
        out = self._resample(img.float(), dst_affine=torch.as_tensor(affine), spatial_size=self.spatial_size)
        out = out.float()
        if self.threshold is not None:
            out = torch.where(out >= self.threshold, 1.0, 0.0).to(torch.float32)
        return MetaTensor(out) if not isinstance(out, MetaTensor) else out

    def inverse(self, data: torch.Tensor) -> torch.Tensor:
        """Resample a ``(C, *spatial_size)`` map of the cube back to the source grid (its trace says which)."""
        return self._resample.inverse(data)


class CentredCubed(MapTransform, InvertibleTransform):
    """Dictionary wrapper of :class:`CentredCube`: every key goes into the cube of ``mask_key``'s foreground.

    Args:
        keys: the keys to resample.
        mask_key: the key whose centre of mass places the cube; default the first key.
        spatial_size, spacing, centre_voxel: see :class:`CentredCube`.
        mode, threshold: one for every key, or one per key.
        allow_missing_keys: skip absent keys.
    """

    def __init__(
        self,
        *,
        keys: KeysCollection,
        mask_key: Hashable | None = None,
        spatial_size: Sequence[int] = (64, 64, 64),
        spacing: Sequence[float] | float = 1.0,
        centre_voxel: Sequence[float] | None = None,
        mode: Sequence[str] | str = "bilinear",
        threshold: Sequence[float | None] | float | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.mask_key = self.keys[0] if mask_key is None else mask_key
        modes = ensure_tuple_rep(mode, len(self.keys))
        thresholds = ensure_tuple_rep(threshold, len(self.keys))
        self.transforms = {
            key: CentredCube(spatial_size=spatial_size, spacing=spacing, centre_voxel=centre_voxel, mode=m, threshold=t)
            for key, m, t in zip(self.keys, modes, thresholds, strict=True)
        }

    def __call__(self, data: Mapping[Any, Any]) -> dict[Any, Any]:
        """Return a shallow copy of ``data`` with every key on the cube."""
        d = dict(data)
        centre = centre_of_mass(d[self.mask_key])
        for key in self.key_iterator(d):
            d[key] = self.transforms[key](d[key], centre=centre)
        return d

    def inverse(self, data: Mapping[Any, Any]) -> dict[Any, Any]:
        """Undo the cube on every present key."""
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.transforms[key].inverse(d[key])
        return d
