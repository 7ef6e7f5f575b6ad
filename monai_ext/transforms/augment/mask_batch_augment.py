"""The classifier's training input: a batch of shape masks augmented as a whole, then given its channels.

Masks are augmented as masks: a scanner round trip (:class:`~monai_ext.transforms.RandScannerResample`), then a
rotation, shift and flips (:class:`~monai_ext.transforms.RandBatchAugment`), then binarised at 0.5, exactly as the
inference recipe (:class:`~monai_ext.transforms.CentredCube` with ``threshold=0.5``) delivers them. Only then is the
distance channel computed, so training and inference see the same kind of input.
"""

from __future__ import annotations

import torch

from monai_ext.transforms.augment.batch_augment import RandBatchAugment
from monai_ext.transforms.augment.scanner_resample import RandScannerResample
from monai_ext.transforms.masks.mask_distance import mask_distance

__all__ = ["MaskBatchAugment"]


class MaskBatchAugment:
    """``(B, 1, D, H, W)`` masks -> ``(B, 1, D, H, W)`` augmented 0/1 masks, or ``(B, 2, ...)`` with the distance.

    Args:
        scanner: the scanner round trip, or ``None``.
        augment: the rotation/shift/flip augmentation, or ``None``.
        distance_channel: append :func:`~monai_ext.transforms.masks.mask_distance` of the augmented mask.
        max_distance: voxels mapped to 1 in the distance channel (a fraction is allowed).

    Example:
        >>> masks = torch.zeros(2, 1, 16, 16, 16); masks[:, :, 4:12, 4:12, 4:12] = 1
        >>> aug = MaskBatchAugment(augment=RandBatchAugment(seed=0), distance_channel=True, max_distance=2)
        >>> tuple(aug(masks).shape)
        (2, 2, 16, 16, 16)
    """

    def __init__(
        self,
        *,
        scanner: RandScannerResample | None = None,
        augment: RandBatchAugment | None = None,
        distance_channel: bool = True,
        max_distance: float = 6,
    ) -> None:
        self.scanner = scanner
        self.augment = augment
        self.distance_channel = distance_channel
        self.max_distance = float(max_distance)

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        """Augment ``batch`` ``(B, 1, D, H, W)`` (not modified); returns float32 on its device.

        Raises:
            ValueError: ``batch`` is not a 5D one-channel batch (a distance channel is added here, not before).
        """
        return self.channels(self.masks(batch))

    def masks(self, batch: torch.Tensor) -> torch.Tensor:
        """The augmented ``(B, 1, D, H, W)`` 0/1 masks of ``batch`` (not modified), before any distance channel.

        Raises:
            ValueError: ``batch`` is not a 5D one-channel batch.
        """
        if batch.ndim != 5 or batch.shape[1] != 1:
            raise ValueError(f"expected a (B, 1, D, H, W) batch of masks, got shape {tuple(batch.shape)}")
        out = batch.float()
        if self.scanner is not None:
            out = self.scanner(out)
        if self.augment is not None:
            out = self.augment(out)
        return (out >= 0.5).float()

    def channels(self, masks: torch.Tensor) -> torch.Tensor:
        """The network input of ``(B, 1, D, H, W)`` 0/1 masks: the masks, with the distance channel when asked."""
        if not self.distance_channel:
            return masks
        return torch.cat([masks, mask_distance(masks, max_distance=self.max_distance)], dim=1)

    def state_dict(self) -> dict[str, dict[str, torch.Tensor]]:
        """The generators' states (a resumed run continues the same random sequences)."""
        return {
            name: part.state_dict() for name, part in (("scanner", self.scanner), ("augment", self.augment)) if part
        }

    def load_state_dict(self, state: dict[str, dict[str, torch.Tensor]]) -> None:
        """Restore the generators' states."""
        for name, part in (("scanner", self.scanner), ("augment", self.augment)):
            if part is not None and name in state:
                part.load_state_dict(state[name])
