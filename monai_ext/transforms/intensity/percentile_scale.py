"""Percentile intensity scaling to ``[0, 1]``, the usual normalisation for MR (arbitrary units)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from monai.config import DtypeLike, KeysCollection, NdarrayOrTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import MapTransform, ScaleIntensityRange, Transform
from monai.transforms.utils_pytorch_numpy_unification import percentile
from monai.utils import convert_to_dst_type, convert_to_tensor

from monai_ext.transforms.intensity._checks import require_no_nan

__all__ = ["PercentileScale", "PercentileScaled"]


class PercentileScale(Transform):
    """Map the ``lower``-th percentile to 0 and the ``upper``-th to 1 linearly, clipping to ``[0, 1]``.

    Percentiles are computed per channel (``channel_wise=True``, the default: MR sequences stacked
    as channels have unrelated scales) or over the whole image. With ``nonzero=True`` they are
    computed over the non-zero voxels only (background excluded) and zero voxels stay 0.
    A channel whose percentile range is zero (e.g. a constant image) becomes all zeros, without
    dividing by zero. The scaling itself is MONAI's :class:`~monai.transforms.ScaleIntensityRange`.

    Args:
        lower: lower percentile in ``[0, 100)``, e.g. 0.5.
        upper: upper percentile in ``(lower, 100]``, e.g. 99.5.
        nonzero: compute percentiles over non-zero voxels only and keep zero voxels at 0.
        channel_wise: compute percentiles for each channel separately.
        dtype: output dtype.

    Raises:
        ValueError: percentiles out of range or not ordered; at call time, NaN or ±inf in the input.

    Example:
        >>> import torch
        >>> img = torch.arange(101.0).reshape(1, 101, 1, 1)  # (C, H, W, D), values 0..100
        >>> out = PercentileScale(lower=10.0, upper=90.0)(img).flatten()
        >>> [round(float(v), 3) for v in (out[0], out[10], out[50], out[90], out[100])]
        [0.0, 0.0, 0.5, 1.0, 1.0]
    """

    backend = ScaleIntensityRange.backend

    def __init__(
        self,
        *,
        lower: float = 0.5,
        upper: float = 99.5,
        nonzero: bool = False,
        channel_wise: bool = True,
        dtype: DtypeLike = np.float32,
    ) -> None:
        if not 0.0 <= lower < upper <= 100.0:
            raise ValueError(f"Need 0 <= lower < upper <= 100, got lower={lower}, upper={upper}.")
        self.lower = lower
        self.upper = upper
        self.nonzero = nonzero
        self.channel_wise = channel_wise
        self.dtype = dtype

    def __call__(self, img: NdarrayOrTensor) -> torch.Tensor:
        """Scale ``img``.

        Args:
            img: channel-first image, shape ``(C, H, W, D)`` (any spatial rank works);
                numpy array, tensor or MetaTensor.

        Returns:
            Tensor of the same shape, values in ``[0, 1]``; a MetaTensor (metadata kept) when meta
            tracking is on.

        Raises:
            ValueError: ``img`` contains NaN or ±inf.
        """
        require_no_nan(img, transform=type(self).__name__, allow_inf=False)
        tensor: torch.Tensor = convert_to_tensor(img, track_meta=get_track_meta())
        values = convert_to_tensor(tensor, track_meta=False, dtype=torch.float32)
        scaled = self._scale_each_channel(values) if self.channel_wise else self._scale(values)
        return convert_to_dst_type(scaled, dst=tensor, dtype=self.dtype)[0]  # MetaTensor meta is kept

    def _scale_each_channel(self, values: torch.Tensor) -> torch.Tensor:
        """Scale every channel of ``values`` ``(C, ...)`` by its own percentiles."""
        return torch.stack([self._scale(channel) for channel in values])

    def _scale(self, values: torch.Tensor) -> torch.Tensor:
        """Scale one block of voxels (a channel, or the whole image) using its own percentiles."""
        mask = values != 0 if self.nonzero else torch.ones_like(values, dtype=torch.bool)
        selected = values[mask]
        if selected.numel() == 0:
            return torch.zeros_like(values)
        low, high = (float(q) for q in percentile(selected, [self.lower, self.upper]))  # type: ignore[union-attr]
        if high <= low:
            return torch.zeros_like(values)
        scale = ScaleIntensityRange(a_min=low, a_max=high, b_min=0.0, b_max=1.0, clip=True, dtype=None)
        scaled = convert_to_tensor(scale(values), track_meta=False)
        return torch.where(mask, scaled, torch.zeros_like(scaled))


class PercentileScaled(MapTransform):
    """Dictionary wrapper of :class:`PercentileScale`: scales each of ``keys`` by its own percentiles.

    Args:
        keys: keys of the images (channel-first ``(C, H, W, D)``) to scale.
        lower: see :class:`PercentileScale`.
        upper: see :class:`PercentileScale`.
        nonzero: see :class:`PercentileScale`.
        channel_wise: see :class:`PercentileScale`.
        dtype: output dtype.
        allow_missing_keys: do not raise if a key is absent.

    Example:
        >>> import torch
        >>> out = PercentileScaled(keys="t1")({"t1": torch.rand(1, 8, 8, 8) * 500.0})
        >>> float(out["t1"].min()), float(out["t1"].max())
        (0.0, 1.0)
    """

    backend = PercentileScale.backend

    def __init__(
        self,
        *,
        keys: KeysCollection,
        lower: float = 0.5,
        upper: float = 99.5,
        nonzero: bool = False,
        channel_wise: bool = True,
        dtype: DtypeLike = np.float32,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.scaler = PercentileScale(lower=lower, upper=upper, nonzero=nonzero, channel_wise=channel_wise, dtype=dtype)

    def __call__(self, data: Mapping[Any, Any]) -> dict[Any, Any]:
        """Return a shallow copy of ``data`` with every present key scaled."""
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.scaler(d[key])
        return d
