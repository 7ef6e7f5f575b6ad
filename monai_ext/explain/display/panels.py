"""The three radiological panels of a RAS-ordered volume: their planes, edge letters, and the arrays they take."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["RAS_PANELS", "as_volume", "label_edges", "voxel_sizes"]

#: (title, voxel axis sliced, letters at the screen's left/right/bottom/top) for RAS voxel axes (I, J, K).
#: A panel shows its slice transposed with ``origin="lower"`` and the horizontal axis inverted (radiological).
RAS_PANELS = (
    ("axial", 2, ("R", "L", "P", "A")),
    ("coronal", 1, ("R", "L", "I", "S")),
    ("sagittal", 0, ("A", "P", "I", "S")),
)
# (x, y, horizontal alignment, vertical alignment) of the letters at the left, right, bottom and top edges
_EDGES = (
    (0.02, 0.5, "left", "center"),
    (0.98, 0.5, "right", "center"),
    (0.5, 0.02, "center", "bottom"),
    (0.5, 0.98, "center", "top"),
)


def label_edges(ax: Axes, letters: tuple[str, str, str, str]) -> None:
    """Write the anatomical directions at the left, right, bottom and top edges of a panel (white, outlined)."""
    from matplotlib import patheffects

    for (x, y, ha, va), letter in zip(_EDGES, letters, strict=True):
        text = ax.text(x, y, letter, ha=ha, va=va, color="white", fontsize=9, fontweight="bold", transform=ax.transAxes)
        text.set_path_effects([patheffects.withStroke(linewidth=2, foreground="black")])


def as_volume(array: torch.Tensor | np.ndarray, name: str) -> np.ndarray:
    """``array`` as a float ``(I, J, K)`` numpy volume, leading axes of size 1 dropped.

    Raises:
        ValueError: not 3D once those axes are dropped (names ``name``).
    """
    values = array.detach().cpu().float().numpy() if isinstance(array, torch.Tensor) else np.asarray(array, float)
    while values.ndim > 3 and values.shape[0] == 1:
        values = values[0]
    if values.ndim != 3:
        raise ValueError(f"{name} must be a 3D (I, J, K) volume, got shape {values.shape}")
    return values


def voxel_sizes(spacing: Sequence[float] | None) -> tuple[float, float, float]:
    """``spacing`` (mm) as three floats rounded to 1e-6 mm, ``(1, 1, 1)`` for ``None``.

    The rounding keeps the float noise of an affine (0.69999999999 mm from a DICOM series, 0.7 from its NRRD)
    from changing the panels' aspect ratios, which moves matplotlib's constrained layout by whole pixels.

    Raises:
        ValueError: not 3 positive numbers.
    """
    sizes = (1.0, 1.0, 1.0) if spacing is None else tuple(round(float(s), 6) for s in spacing)
    if len(sizes) != 3 or not min(sizes) > 0:
        raise ValueError(f"spacing must be 3 positive numbers (mm), got {spacing!r}")
    return sizes[0], sizes[1], sizes[2]
