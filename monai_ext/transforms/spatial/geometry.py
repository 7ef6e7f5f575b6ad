"""Orientation and voxel-spacing normalisation, composing MONAI's ``Orientation`` and ``Spacing``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import MapTransform, Orientation, Spacing, Transform
from monai.utils import convert_to_tensor

from monai_ext.transforms._keys import check_label_keys

__all__ = ["NormalizeGeometry", "NormalizeGeometryd"]


class NormalizeGeometry(Transform):
    """Reorient an image to ``axcodes`` and resample it to voxel spacing ``pixdim`` (mm).

    First MONAI's :class:`~monai.transforms.Orientation` permutes/flips the array axes (no
    interpolation) so that they run along ``axcodes``, then :class:`~monai.transforms.Spacing`
    resamples to ``pixdim``. Both update a MetaTensor's affine, so the world position of every
    voxel is preserved. A plain array or tensor is treated as having an identity affine.
    Orientation labels follow the MetaTensor's ``"space"`` metadata (RAS unless stated LPS).

    Args:
        axcodes: target orientation, e.g. ``"RAS"`` (first axis towards Right, then Anterior, Superior).
        pixdim: target voxel spacing in mm, one value per spatial axis (after reorientation), all > 0.
        mode: interpolation for :class:`~monai.transforms.Spacing`: ``"bilinear"`` (images) or ``"nearest"``.
        padding_mode: out-of-grid values: ``"border"`` (default), ``"zeros"`` or ``"reflection"``.
        align_corners: see ``torch.nn.functional.grid_sample``.

    Raises:
        ValueError: ``pixdim`` has a non-positive or non-finite entry.

    Example:
        >>> import torch
        >>> from monai.data import MetaTensor
        >>> lps = torch.diag(torch.tensor([-2.0, -2.0, 3.0, 1.0]))  # 2 x 2 x 3 mm, x and y flipped
        >>> img = MetaTensor(torch.rand(1, 8, 8, 4), affine=lps)  # (C, H, W, D)
        >>> out = NormalizeGeometry(axcodes="RAS", pixdim=(1.0, 1.0, 1.0))(img)
        >>> out.affine.diagonal().tolist()
        [1.0, 1.0, 1.0, 1.0]
    """

    backend = Spacing.backend

    def __init__(
        self,
        *,
        axcodes: str = "RAS",
        pixdim: Sequence[float] = (1.0, 1.0, 1.0),
        mode: str = "bilinear",
        padding_mode: str = "border",
        align_corners: bool = False,
    ) -> None:
        spacing = tuple(float(p) for p in pixdim)
        if not spacing or not all(math.isfinite(p) and p > 0 for p in spacing):
            raise ValueError(f"pixdim must be positive finite spacings in mm, got {pixdim}.")
        self.axcodes = axcodes
        self.pixdim = spacing
        self._orientation = Orientation(axcodes=axcodes, labels=None)
        self._spacing = Spacing(pixdim=spacing, mode=mode, padding_mode=padding_mode, align_corners=align_corners)

    def __call__(self, img: NdarrayOrTensor) -> torch.Tensor:
        """Reorient and resample ``img``.

        Args:
            img: channel-first image, shape ``(C, H, W, D)``; a MetaTensor carries its affine
                (voxel to world, mm), numpy arrays and tensors are taken as identity-affine.

        Returns:
            Float32 tensor (MetaTensor with the new affine when meta tracking is on), shape
            ``(C, H', W', D')`` covering the same field of view.
        """
        tensor = convert_to_tensor(img, track_meta=get_track_meta())
        return self._spacing(self._orientation(tensor))


class NormalizeGeometryd(MapTransform):
    """Dictionary wrapper of :class:`NormalizeGeometry`, using ``"nearest"`` for the label keys.

    Args:
        keys: keys of the channel-first ``(C, H, W, D)`` images and labels.
        axcodes: see :class:`NormalizeGeometry`.
        pixdim: see :class:`NormalizeGeometry` (mm).
        mode: interpolation for the non-label keys.
        label_keys: subset of ``keys`` holding label maps (resampled with ``"nearest"``).
        padding_mode: see :class:`NormalizeGeometry`.
        align_corners: see :class:`NormalizeGeometry`.
        allow_missing_keys: do not raise if a key is absent.

    Raises:
        ValueError: ``label_keys`` is not a subset of ``keys``, or invalid ``pixdim``.

    Example:
        >>> import torch
        >>> t = NormalizeGeometryd(keys=("image", "label"), label_keys="label", pixdim=(2.0, 2.0, 2.0))
        >>> out = t({"image": torch.rand(1, 8, 8, 8), "label": torch.ones(1, 8, 8, 8)})
        >>> tuple(out["image"].shape), tuple(out["label"].shape)
        ((1, 4, 4, 4), (1, 4, 4, 4))
    """

    backend = NormalizeGeometry.backend

    def __init__(
        self,
        *,
        keys: KeysCollection,
        axcodes: str = "RAS",
        pixdim: Sequence[float] = (1.0, 1.0, 1.0),
        mode: str = "bilinear",
        label_keys: KeysCollection = (),
        padding_mode: str = "border",
        align_corners: bool = False,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.label_keys = check_label_keys(self.keys, label_keys)
        self.image_normalizer = NormalizeGeometry(
            axcodes=axcodes, pixdim=pixdim, mode=mode, padding_mode=padding_mode, align_corners=align_corners
        )
        self.label_normalizer = NormalizeGeometry(
            axcodes=axcodes,
            pixdim=pixdim,
            mode="nearest",
            padding_mode=padding_mode,
            align_corners=align_corners,
        )

    def __call__(self, data: Mapping[Any, Any]) -> dict[Any, Any]:
        """Return a shallow copy of ``data`` with every present key reoriented and resampled."""
        d = dict(data)
        for key in self.key_iterator(d):
            normalizer = self.label_normalizer if key in self.label_keys else self.image_normalizer
            d[key] = normalizer(d[key])
        return d
