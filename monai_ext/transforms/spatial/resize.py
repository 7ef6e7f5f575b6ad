"""Resize to a fixed spatial shape (voxel grid), composing MONAI's :class:`~monai.transforms.Resize`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.transforms import MapTransform, Resize, Transform

from monai_ext.transforms._keys import check_label_keys

__all__ = ["ResizeToShape", "ResizeToShaped"]

# Interpolation used for label keys: nearest neighbour without torch's legacy half-voxel offset.
_LABEL_MODE = "nearest-exact"


class ResizeToShape(Transform):
    """Resample an image to exactly ``spatial_size`` voxels (scaling, no cropping or padding).

    The field of view is kept, so the voxel spacing changes; a MetaTensor's affine is updated
    accordingly by MONAI's :class:`~monai.transforms.Resize`, which does the work.

    Args:
        spatial_size: output spatial shape ``(H, W, D)``, all positive; its length is the spatial rank.
        mode: ``torch.nn.functional.interpolate`` mode: ``"trilinear"`` (default, for 3D images),
            ``"bilinear"`` (2D), ``"area"``, ``"nearest-exact"`` (labels), ...
        align_corners: passed to ``interpolate`` for the linear modes.
        anti_aliasing: Gaussian-smooth before downsampling.

    Raises:
        ValueError: ``spatial_size`` is empty or has a non-positive entry.

    Example:
        >>> import torch
        >>> ResizeToShape(spatial_size=(16, 16, 8))(torch.rand(2, 32, 24, 20)).shape
        torch.Size([2, 16, 16, 8])
    """

    backend = Resize.backend

    def __init__(
        self,
        *,
        spatial_size: Sequence[int],
        mode: str = "trilinear",
        align_corners: bool | None = None,
        anti_aliasing: bool = False,
    ) -> None:
        size = tuple(int(s) for s in spatial_size)
        if not size or min(size) <= 0:
            raise ValueError(f"spatial_size must be a non-empty sequence of positive ints, got {spatial_size}.")
        self.spatial_size = size
        self._resize = Resize(
            spatial_size=size,
            size_mode="all",
            mode=mode,
            align_corners=align_corners,
            anti_aliasing=anti_aliasing,
        )

    def __call__(self, img: NdarrayOrTensor) -> torch.Tensor:
        """Resize ``img``.

        Args:
            img: channel-first image, shape ``(C, H, W, D)`` with as many spatial dimensions as
                ``spatial_size``; numpy array, tensor or MetaTensor.

        Returns:
            Float32 tensor (MetaTensor with updated affine when meta tracking is on) of shape
            ``(C, *spatial_size)``.

        Raises:
            ValueError: ``img`` does not have ``len(spatial_size)`` spatial dimensions.
        """
        spatial_rank = len(img.shape) - 1
        if spatial_rank != len(self.spatial_size):
            raise ValueError(
                f"{type(self).__name__}: expected a channel-first image with {len(self.spatial_size)} "
                f"spatial dimensions to match spatial_size={self.spatial_size}, got shape {tuple(img.shape)}."
            )
        return self._resize(img)  # type: ignore[arg-type]


class ResizeToShaped(MapTransform):
    """Dictionary wrapper of :class:`ResizeToShape`: resizes all ``keys`` to the same shape.

    Label keys are resized with ``"nearest-exact"`` so label values stay in the original label set.

    Args:
        keys: keys of the channel-first ``(C, H, W, D)`` images and labels to resize.
        spatial_size: see :class:`ResizeToShape`.
        mode: interpolation for the non-label keys, see :class:`ResizeToShape`.
        label_keys: subset of ``keys`` holding label maps.
        align_corners: see :class:`ResizeToShape` (non-label keys).
        anti_aliasing: see :class:`ResizeToShape` (non-label keys).
        allow_missing_keys: do not raise if a key is absent.

    Raises:
        ValueError: ``label_keys`` is not a subset of ``keys``, or invalid ``spatial_size``.

    Example:
        >>> import torch
        >>> t = ResizeToShaped(keys=("image", "label"), label_keys=("label",), spatial_size=(8, 8, 8))
        >>> out = t({"image": torch.rand(1, 16, 16, 16), "label": torch.randint(0, 3, (1, 16, 16, 16))})
        >>> tuple(out["label"].shape), sorted(set(out["label"].unique().tolist())) <= [0.0, 1.0, 2.0]
        ((1, 8, 8, 8), True)
    """

    backend = ResizeToShape.backend

    def __init__(
        self,
        *,
        keys: KeysCollection,
        spatial_size: Sequence[int],
        mode: str = "trilinear",
        label_keys: KeysCollection = (),
        align_corners: bool | None = None,
        anti_aliasing: bool = False,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.label_keys = check_label_keys(self.keys, label_keys)
        self.image_resizer = ResizeToShape(
            spatial_size=spatial_size, mode=mode, align_corners=align_corners, anti_aliasing=anti_aliasing
        )
        self.label_resizer = ResizeToShape(spatial_size=spatial_size, mode=_LABEL_MODE)

    def __call__(self, data: Mapping[Any, Any]) -> dict[Any, Any]:
        """Return a shallow copy of ``data`` with every present key resized."""
        d = dict(data)
        for key in self.key_iterator(d):
            resizer = self.label_resizer if key in self.label_keys else self.image_resizer
            d[key] = resizer(d[key])
        return d
