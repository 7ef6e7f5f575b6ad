"""Hand the runner's volume to a zoo config in place of its loading steps, as ``LoadImaged`` would have."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from monai.data import MetaTensor
from monai.utils import MetaKeys, SpaceKeys

from monai_ext.bundle.zoo.plan import LoadingHead

__all__ = ["feed_volume", "loader_meta"]


def loader_meta(image: MetaTensor, *, channel_first: bool) -> dict[str, Any]:
    """The metadata ``LoadImage`` gives a volume read from a file (RAS ``affine``, ``original_affine``,
    ``spatial_shape``, ``original_channel_dim``, ``space``, ``filename_or_obj``).

    Args:
        image: ``(C, I, J, K)`` with its RAS affine and ``filename_or_obj``.
        channel_first: whether the loaded array keeps the channel axis (several channels, or
            ``EnsureChannelFirstd`` in the loading steps).
    """
    affine = torch.as_tensor(image.affine, dtype=torch.float64).clone()
    single = image.shape[0] == 1 and not channel_first
    return {
        MetaKeys.AFFINE: affine,
        MetaKeys.ORIGINAL_AFFINE: affine.clone(),
        MetaKeys.SPATIAL_SHAPE: np.asarray(image.shape[1:], dtype=np.int64),
        MetaKeys.ORIGINAL_CHANNEL_DIM: "no_channel" if image.shape[0] == 1 else 0,
        MetaKeys.SPACE: SpaceKeys.RAS,
        "filename_or_obj": str(image.meta.get("filename_or_obj", "")),
        "channels_kept": not single,
    }


def feed_volume(image: MetaTensor, head: LoadingHead | None, keys: Sequence[str]) -> dict[str, Any]:
    """The data dictionary the rest of ``preprocessing`` expects after the loading steps.

    Args:
        image: the runner's input ``(C, I, J, K)`` float32 with its RAS affine (one channel per file).
        head: the loading steps that were removed (``None``: the config takes the image as is, channel-first).
        keys: the loader's keys (resolved); the volume goes under the first, as ``LoadImaged`` reads one file
            per key.

    Returns:
        ``{key: MetaTensor}`` (plus ``<key>_meta_dict`` when the loader had ``image_only=False``). A
        single-channel volume loses its channel axis unless the head made it channel-first, exactly as
        ``LoadImaged`` gives an ``(I, J, K)`` NIfTI; several channels stay ``(C, I, J, K)`` as ``LoadImaged``
        stacks several files.
    """
    key = keys[0]
    if head is None:
        return {key: image.clone()}
    meta = loader_meta(image, channel_first=head.channel_first)
    kept = meta.pop("channels_kept")
    array = image.as_tensor().clone() if kept else image.as_tensor()[0].clone()
    loaded = MetaTensor(array, affine=meta[MetaKeys.AFFINE], meta=meta)
    data: dict[str, Any] = {key: loaded}
    if not head.image_only:
        data[f"{key}_meta_dict"] = dict(loaded.meta)
    return data
