"""Per-label overlap and surface metrics of a label map against a reference: Dice, HD95 and volumes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["label_metrics", "surface_voxels"]


def label_metrics(
    pred: np.ndarray | torch.Tensor,
    reference: np.ndarray | torch.Tensor,
    *,
    labels: Sequence[int],
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
) -> dict[int, dict[str, float]]:
    """Dice, 95th-percentile Hausdorff distance and volumes of each label of one case.

    Args:
        pred: predicted label map, ``(I, J, K)`` integers (or ``(1, I, J, K)``).
        reference: reference label map on the same grid.
        labels: the label values to score (background excluded by the caller).
        spacing: voxel size in mm along ``I, J, K``: HD95 in mm, volumes in mm^3.

    Returns:
        ``{label: {"dice", "hd95_mm", "volume_mm3", "reference_volume_mm3"}}``. Dice is NaN when the label is
        absent from both maps, 0 when it is absent from one; HD95 is NaN when either map lacks the label.

    Raises:
        ValueError: the maps differ in shape, or ``spacing`` does not give one positive size per axis.

    Example:
        >>> ref = np.zeros((8, 8, 8), dtype=np.uint8); ref[2:6, 2:6, 2:6] = 1
        >>> m = label_metrics(ref, ref, labels=[1])[1]
        >>> m["dice"], m["hd95_mm"], m["volume_mm3"]
        (1.0, 0.0, 64.0)
    """
    p, r = _label_map(pred), _label_map(reference)
    if p.shape != r.shape:
        raise ValueError(f"prediction {tuple(p.shape)} and reference {tuple(r.shape)} differ in shape")
    if len(spacing) != p.ndim or min(spacing) <= 0:
        raise ValueError(f"spacing must give {p.ndim} positive voxel sizes, got {list(spacing)}")
    voxel = float(np.prod(spacing))
    return {int(v): _one_label(p == v, r == v, spacing=spacing, voxel=voxel) for v in labels}


def _label_map(values: np.ndarray | torch.Tensor) -> torch.Tensor:
    tensor = torch.as_tensor(np.asarray(values) if not isinstance(values, torch.Tensor) else values)
    tensor = tensor.detach().cpu().as_subclass(torch.Tensor)
    if tensor.ndim == 4 and tensor.shape[0] == 1:
        tensor = tensor[0]
    if tensor.is_floating_point():
        tensor = tensor.round()
    return tensor.long()


def _one_label(pred: torch.Tensor, ref: torch.Tensor, *, spacing: Sequence[float], voxel: float) -> dict[str, float]:
    n_pred, n_ref = int(pred.sum()), int(ref.sum())
    overlap = int((pred & ref).sum())
    dice = 2.0 * overlap / (n_pred + n_ref) if n_pred + n_ref else math.nan
    return {
        "dice": dice,
        "hd95_mm": _hd95(pred, ref, spacing) if n_pred and n_ref else math.nan,
        "volume_mm3": n_pred * voxel,
        "reference_volume_mm3": n_ref * voxel,
    }


def surface_voxels(mask: torch.Tensor) -> torch.Tensor:
    """Voxels of a boolean ``(I, J, K)`` mask that have a 6-connected neighbour outside it (or the grid edge).

    Returns:
        ``(N, 3)`` int64 voxel indices.
    """
    p = F.pad(mask[None, None].float(), (1, 1, 1, 1, 1, 1))[0, 0].bool()
    inner = mask.clone()
    for neighbour in (p[2:, 1:-1, 1:-1], p[:-2, 1:-1, 1:-1], p[1:-1, 2:, 1:-1], p[1:-1, :-2, 1:-1]):
        inner &= neighbour
    inner &= p[1:-1, 1:-1, 2:] & p[1:-1, 1:-1, :-2]
    return torch.nonzero(mask & ~inner)


def _directed(a: torch.Tensor, b: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """Distance from each point of ``a`` ``(N, 3)`` to the nearest point of ``b`` ``(M, 3)`` (same units)."""
    return torch.cat([torch.cdist(a[i : i + chunk], b).amin(dim=1) for i in range(0, len(a), chunk)])


def _hd95(pred: torch.Tensor, ref: torch.Tensor, spacing: Sequence[float]) -> float:
    """Symmetric 95th-percentile Hausdorff distance between the surfaces of two non-empty masks, in mm."""
    scale = torch.tensor([float(s) for s in spacing], dtype=torch.float64)
    a, b = surface_voxels(pred).double() * scale, surface_voxels(ref).double() * scale
    return max(float(torch.quantile(_directed(a, b), 0.95)), float(torch.quantile(_directed(b, a), 0.95)))
