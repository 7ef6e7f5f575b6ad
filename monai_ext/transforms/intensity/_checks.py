"""Input validation shared by the intensity transforms (private)."""

from __future__ import annotations

import math

from monai.config import NdarrayOrTensor
from monai.transforms.utils_pytorch_numpy_unification import isfinite, isnan


def require_no_nan(img: NdarrayOrTensor, *, transform: str, allow_inf: bool = True) -> None:
    """Raise a ``ValueError`` naming the offending values if ``img`` holds NaN (and, optionally, ±inf).

    Args:
        img: array or tensor of any shape, e.g. channel-first ``(C, H, W, D)``.
        transform: name of the calling transform, used in the message.
        allow_inf: when ``False``, ±inf is rejected as well.

    Raises:
        ValueError: ``img`` contains NaN, or ±inf when ``allow_inf`` is ``False``.
    """
    total = math.prod(img.shape)
    nan_count = int(isnan(img).sum())
    if nan_count:
        raise ValueError(
            f"{transform}: input of shape {tuple(img.shape)} contains {nan_count} NaN value(s) out of "
            f"{total}; NaN has no intensity meaning. Fill or mask missing voxels before this transform."
        )
    if allow_inf:
        return
    inf_count = int((~isfinite(img)).sum())
    if inf_count:
        raise ValueError(
            f"{transform}: input of shape {tuple(img.shape)} contains {inf_count} infinite value(s) out of "
            f"{total}; percentiles of such data are undefined. Clip or mask them before this transform."
        )
