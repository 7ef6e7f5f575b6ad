"""A thickness-aware anomaly score for shape autoencoders: how much thicker the gland is than normal.

Adrenal hyperplasia is a thickening of the gland's limbs. Two features measure it, both from the inner distance
map (:func:`~monai_ext.transforms.masks.mask_distance`, city-block voxels, clipped at ``max_distance``):

* ``depth_excess``: the summed inner depth of the input minus that of its reconstruction (thresholded at 0.5): an
  autoencoder trained on normal glands reconstructs a normal thickness, so a thick gland leaves a positive excess;
* ``mean_depth``: the input's mean inner depth over its voxels (its thickness, whatever its size).

The score is the sum of the two features' z-scores against the normal training glands (``mean``/``std``): a
normative model fitted on normal cases only, with no abnormal label involved.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from monai_ext.transforms.masks.mask_distance import mask_distance

__all__ = ["THICKNESS_FEATURES", "thickness_anomaly_score", "thickness_features"]

THICKNESS_FEATURES = ("depth_excess", "mean_depth")


def thickness_features(image: torch.Tensor, reconstruction: torch.Tensor, *, max_distance: int = 6) -> torch.Tensor:
    """``(B, 2)`` features ``(depth_excess, mean_depth)`` of ``(B, 1, D, H, W)`` masks and reconstructions."""
    x = (image > 0.5).float()
    r = (reconstruction > 0.5).float()
    dx = mask_distance(x, max_distance=max_distance)
    dr = mask_distance(r, max_distance=max_distance)
    excess = (dx - dr).sum(dim=(1, 2, 3, 4))
    mean_depth = dx.sum(dim=(1, 2, 3, 4)) / x.sum(dim=(1, 2, 3, 4)).clamp_min(1.0)
    return torch.stack([excess, mean_depth], dim=1)


def thickness_anomaly_score(
    image: torch.Tensor,
    reconstruction: torch.Tensor,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    max_distance: int = 6,
) -> torch.Tensor:
    """``(B,)`` sum of the features' z-scores against normal glands (higher = thicker than normal).

    Example:
        >>> thin = torch.zeros(1, 1, 16, 16, 16); thin[..., 6:9, 4:12, 4:12] = 1
        >>> thick = torch.zeros(1, 1, 16, 16, 16); thick[..., 3:12, 4:12, 4:12] = 1
        >>> s = [thickness_anomaly_score(m, thin, mean=(0, 0.2), std=(10, 0.1)) for m in (thin, thick)]
        >>> bool(s[1] > s[0])
        True
    """
    features = thickness_features(image.float(), reconstruction.float(), max_distance=max_distance)
    centre = torch.as_tensor(mean, dtype=features.dtype)
    scale = torch.as_tensor(std, dtype=features.dtype).clamp_min(1e-6)
    return ((features - centre) / scale).sum(dim=1)
