"""Opt-in resampling of irregular stacks onto a regular, orthogonal grid.

Used only when the caller asks for it (``resample=True``): missing slices or uneven gaps are filled by
linear interpolation along the slice normal, and sheared stacks (gantry tilt) are shifted in-plane so that
every slice lies on one orthogonal grid. Both are recorded in the volume's ``problems``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["resample_along_normal", "unshear"]

_ON_GRID_MM = 1e-3


def resample_along_normal(slices: np.ndarray, distances: np.ndarray, spacing: float) -> tuple[np.ndarray, int]:
    """Linear interpolation of slices at irregular positions onto a regular grid.

    Args:
        slices: ``(N, rows, cols)`` images sorted along the normal.
        distances: ``(N,)`` their positions along the normal, ascending, mm.
        spacing: the target slice spacing, mm.

    Returns:
        ``(M, rows, cols)`` float32 images at ``distances[0] + m * spacing``, and ``M``.
    """
    count = round((distances[-1] - distances[0]) / spacing) + 1
    targets = distances[0] + spacing * np.arange(count)
    upper = np.clip(np.searchsorted(distances, targets, side="left"), 1, len(distances) - 1)
    lower = upper - 1
    span = distances[upper] - distances[lower]
    weight = np.clip((targets - distances[lower]) / span, 0.0, 1.0)
    # An acquired slice that sits on the grid (within a micrometre) is kept exactly, not re-interpolated.
    weight[(targets - distances[lower]) <= _ON_GRID_MM] = 0.0
    weight[(distances[upper] - targets) <= _ON_GRID_MM] = 1.0
    weight = weight.astype(np.float32)
    out = np.empty((count, *slices.shape[1:]), np.float32)
    for m in range(count):
        a, b, w = slices[lower[m]], slices[upper[m]], weight[m]
        out[m] = a if w == 0 else (b if w == 1 else (1 - w) * a + w * b)
    return out, count


def unshear(slices: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Shift each slice in-plane by a sub-pixel amount (bilinear), filling with the stack minimum.

    Args:
        slices: ``(N, rows, cols)`` images.
        shifts: ``(N, 2)`` shift of each slice's content in pixels, ``(along columns i, along rows j)``:
            output pixel ``(j, i)`` takes input ``(j - shift_j, i - shift_i)``.

    Returns:
        ``(N, rows, cols)`` float32 images.
    """
    import torch  # imported here: the DICOM command line must not pay for torch unless it unshears
    import torch.nn.functional as F

    n, rows, cols = slices.shape
    data = torch.from_numpy(np.ascontiguousarray(slices, dtype=np.float32))
    floor = float(data.min())
    ii = torch.arange(cols, dtype=torch.float32)[None, None, :] - torch.from_numpy(shifts[:, 0]).float()[:, None, None]
    jj = torch.arange(rows, dtype=torch.float32)[None, :, None] - torch.from_numpy(shifts[:, 1]).float()[:, None, None]
    grid = torch.stack(
        (
            2 * ii.expand(n, rows, cols) / max(cols - 1, 1) - 1,
            2 * jj.expand(n, rows, cols) / max(rows - 1, 1) - 1,
        ),
        dim=-1,
    )
    moved = F.grid_sample((data - floor)[:, None], grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return (moved[:, 0] + floor).numpy()
