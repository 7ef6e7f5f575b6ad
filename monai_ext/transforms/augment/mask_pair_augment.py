"""Pairs of views of one gland for consistency training: the augmented mask and a second acquisition of it.

The adrenal classifier must give the same answer on a gland segmented on a scanner grid and re-cropped as on the
native 1 mm cube. :class:`~monai_ext.transforms.MaskBatchAugment` teaches it the kinds of input it will see;
:class:`MaskPairAugment` also lets the loss (:class:`~monai_ext.engines.ConsistencyLoss`) ask for the same answer on
both views of the same gland ("stability training", Zheng et al., CVPR 2016; the Jensen-Shannon consistency of
AugMix, Hendrycks et al., ICLR 2020).
"""

from __future__ import annotations

import torch

from monai_ext.transforms.augment.mask_batch_augment import MaskBatchAugment
from monai_ext.transforms.augment.scanner_resample import RandScannerResample

__all__ = ["MaskPairAugment"]


class MaskPairAugment:
    """``(B, 1, D, H, W)`` masks -> ``(2B, C, D, H, W)``: the ``B`` augmented masks, then their ``B`` partners.

    Sample ``i`` and sample ``B + i`` are the same gland: ``augment``'s mask, and that mask acquired once more by
    ``partner`` (a scanner round trip that also lands a fraction of a voxel off, as a re-crop does). Both halves get
    ``augment``'s channels (the mask, and the distance channel when it has one).

    Args:
        augment: the first view (and the channels of both).
        partner: the second acquisition of the first view; use ``prob=1``.

    Example:
        >>> masks = torch.zeros(2, 1, 16, 16, 16); masks[:, :, 4:12, 4:12, 4:12] = 1
        >>> pairs = MaskPairAugment(
        ...     augment=MaskBatchAugment(distance_channel=True, max_distance=2),
        ...     partner=RandScannerResample(prob=1.0, max_shift=0.5, seed=0),
        ... )
        >>> tuple(pairs(masks).shape)
        (4, 2, 16, 16, 16)
    """

    def __init__(self, *, augment: MaskBatchAugment, partner: RandScannerResample) -> None:
        self.augment = augment
        self.partner = partner

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        """Return the float32 pairs of ``batch`` ``(B, 1, D, H, W)`` (not modified) on its device.

        Raises:
            ValueError: ``batch`` is not a 5D one-channel batch.
        """
        first = self.augment.masks(batch)
        second = (self.partner(first) >= 0.5).float()
        return self.augment.channels(torch.cat([first, second], dim=0))

    def state_dict(self) -> dict[str, object]:
        """The generators' states (a resumed run continues the same random sequences)."""
        return {"augment": self.augment.state_dict(), "partner": self.partner.state_dict()}

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Restore the generators' states."""
        self.augment.load_state_dict(state["augment"])  # type: ignore[arg-type]
        self.partner.load_state_dict(state["partner"])  # type: ignore[arg-type]
