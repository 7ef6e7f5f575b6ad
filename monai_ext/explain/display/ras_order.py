"""Reorder an ``(I, J, K)`` array to RAS voxel order (flips and axis swaps only), for displays that assume it."""

from __future__ import annotations

import numpy as np

__all__ = ["to_ras_order"]


def to_ras_order(array: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, tuple[float, float, float]]:
    """``array`` ``(I, J, K)`` with its RAS ``affine`` -> the same voxels in the closest RAS order, and their spacing.

    No interpolation: axes are permuted and flipped to the closest of R, A, S (an oblique grid stays oblique by
    the residual rotation). The montages of :mod:`monai_ext.explain.display.montage` label their edges assuming RAS
    order.

    Example:
        >>> lps = np.diag([-0.7, -0.7, 2.5, 1.0])
        >>> a = np.zeros((3, 2, 2)); a[0, 0, 0] = 1
        >>> ras, spacing = to_ras_order(a, lps)
        >>> float(ras[2, 1, 0]), [round(s, 2) for s in spacing]
        (1.0, [0.7, 0.7, 2.5])
    """
    import nibabel as nib

    current = nib.orientations.io_orientation(np.asarray(affine, dtype=np.float64))
    transform = nib.orientations.ornt_transform(current, nib.orientations.axcodes2ornt("RAS"))
    spacing = np.linalg.norm(np.asarray(affine, dtype=np.float64)[:3, :3], axis=0)
    order = [int(a) for a in current[:, 0]]  # input axis n runs along world axis order[n]
    ras_spacing = [0.0, 0.0, 0.0]
    for axis, world in enumerate(order):
        ras_spacing[world] = float(spacing[axis])
    reordered = nib.orientations.apply_orientation(np.asarray(array), transform)
    return np.ascontiguousarray(reordered), (ras_spacing[0], ras_spacing[1], ras_spacing[2])
