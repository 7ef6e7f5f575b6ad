"""Batch preparation for MONAI engines: move to the device, augment the whole batch, pick the memory layout."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from monai.engines.utils import PrepareBatch

__all__ = ["AugmentedBatch"]


class AugmentedBatch(PrepareBatch):
    """``prepare_batch`` for :class:`~monai.engines.SupervisedTrainer` and evaluators.

    Takes a collated dictionary batch, moves ``image`` and ``label`` to the engine device, applies a
    batch augmentation (e.g. :class:`~monai_ext.transforms.RandBatchAugment`) on that device, and returns
    the image in ``channels_last_3d`` layout when asked (faster convolutions on CPU and recent GPUs).

    Args:
        augment: callable ``(B, C, D, H, W) -> (B, C, D, H, W)``, or ``None`` for evaluation.
        image_key: batch key of the images.
        label_key: batch key of the labels (``None``: unsupervised, the image is also the target).
        channels_last: convert the image to ``torch.channels_last_3d``.
    """

    def __init__(
        self,
        *,
        augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
        image_key: str = "image",
        label_key: str | None = "label",
        channels_last: bool = True,
    ) -> None:
        self.augment = augment
        self.image_key = image_key
        self.label_key = label_key
        self.channels_last = channels_last

    def __call__(
        self,
        batchdata: Mapping[str, Any],
        device: str | torch.device | None = None,
        non_blocking: bool = False,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(image, target)``: image ``(B, C, D, H, W)`` float32, target ``(B,)`` int64 labels
        (or the image itself when ``label_key`` is ``None``)."""
        image = torch.as_tensor(batchdata[self.image_key]).to(device=device, non_blocking=non_blocking).float()
        if self.augment is not None:
            image = self.augment(image)
        if self.channels_last and image.ndim == 5:
            image = image.contiguous(memory_format=torch.channels_last_3d)
        if self.label_key is None:
            return image, image
        label = torch.as_tensor(batchdata[self.label_key]).to(device=device, non_blocking=non_blocking)
        return image, label.reshape(len(label)).long()
