"""A three-plane PNG of a heatmap over the intensity image (the CT), the segmented structure outlined, through it."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from monai_ext.explain.display.panels import RAS_PANELS, as_volume, label_edges, voxel_sizes
from monai_ext.io.atomic import atomic_path

__all__ = ["OutlineStyle", "focus_voxel", "save_outline_montage"]


@dataclass(frozen=True, kw_only=True)
class OutlineStyle:
    """How :func:`save_outline_montage` draws.

    Attributes:
        cmap: matplotlib colour map of the heatmap (fixed to [0, 1]).
        alpha: opacity of the heatmap.
        threshold: heatmap values below it are transparent, so the image shows through.
        outline_color: colour of the structure's outline (cyan: absent from ``inferno`` and from grey levels).
        outline_width: its line width in points.
        margin_mm: the panels show the structure's bounding box plus this margin (mm); ``None``: whole slices.
        dpi: the PNG is ``12 x 4`` inches at this resolution (``1200 x 400`` pixels at 100 dpi).
    """

    cmap: str = "inferno"
    alpha: float = 0.45
    threshold: float = 0.2
    outline_color: str = "#00ffff"
    outline_width: float = 1.5
    margin_mm: float | None = 30.0
    dpi: int = 100


def save_outline_montage(
    image: torch.Tensor | np.ndarray,
    heatmap: torch.Tensor | np.ndarray,
    mask: torch.Tensor | np.ndarray,
    path: str | os.PathLike[str],
    *,
    window: tuple[float, float],
    spacing: Sequence[float] | None = None,
    title: str | None = None,
    outline_label: str = "segmentation",
    style: OutlineStyle | None = None,
) -> tuple[int, int, int]:
    """Write a PNG with axial, coronal and sagittal slices of ``image`` through the structure ``mask``.

    The three volumes share one grid, indexed ``(I, J, K)`` in RAS voxel order (see
    :func:`~monai_ext.explain.display.ras_order.to_ras_order`); the panels follow the radiological convention of
    :func:`~monai_ext.explain.save_overlay_montage` (patient's right on the viewer's left, anterior or superior
    up) with orientation letters at their edges. The slices cross at :func:`focus_voxel` (the centre of the
    structure's hottest part, marked by a cross). ``image`` is drawn in grey from ``window[0]`` (black) to ``window[1]``
    (white), e.g. a CT's soft-tissue window (:func:`~monai_ext.explain.display.display_range.display_range`), the
    heatmap over it semi-transparently, and the outline of ``mask > 0`` as a line. The file is written
    atomically.

    Args:
        image: ``(I, J, K)`` intensities (HU for a CT); leading axes of size 1 are dropped.
        heatmap: ``(I, J, K)``, values in [0, 1]; NaNs count as 0.
        mask: ``(I, J, K)``, the structure where ``> 0`` (e.g. one gland of a label map).
        path: output ``.png``.
        window: ``(black, white)`` intensities of the grey scale.
        spacing: voxel size ``(sI, sJ, sK)`` in mm (true aspect ratios, the margin); ``None`` = 1 mm isotropic.
        title: figure title.
        outline_label: the outline's name in the legend.
        style: colours, opacity, margin and resolution (:class:`OutlineStyle`).

    Returns:
        The voxel ``(i, j, k)`` the three slices go through.

    Raises:
        ValueError: the volumes are not 3D or not on one grid, ``mask`` is empty, ``window`` is not increasing,
            or ``spacing`` is not 3 positive numbers.

    Example:
        >>> import tempfile, pathlib
        >>> ct = np.full((20, 20, 10), -100.0); mask = np.zeros(ct.shape); mask[8:12, 8:12, 4:6] = 1
        >>> heat = mask * 0.8; heat[9, 10, 5] = 1.0
        >>> png = pathlib.Path(tempfile.mkdtemp()) / "m.png"
        >>> save_outline_montage(ct, heat, mask, png, window=(-160.0, 240.0))
        (9, 10, 5)
    """
    style = style or OutlineStyle()
    volume = as_volume(image, "image")
    heat = np.nan_to_num(as_volume(heatmap, "heatmap"), nan=0.0)
    inside = as_volume(mask, "mask") > 0
    if not volume.shape == heat.shape == inside.shape:
        raise ValueError(f"image {volume.shape}, heatmap {heat.shape} and mask {inside.shape} are not on one grid")
    if not inside.any():
        raise ValueError("the mask is empty: there is no structure to outline")
    if not (math.isfinite(window[0]) and math.isfinite(window[1]) and window[1] > window[0]):
        raise ValueError(f"window must be (black, white) with white > black, got {window!r}")
    sizes = voxel_sizes(spacing)
    focus = focus_voxel(heat, inside)
    field = _field_of_view(inside, sizes, style.margin_mm)
    _write(volume, heat, inside, focus, field, path, sizes, window, title, outline_label, style)
    return focus


def focus_voxel(heatmap: np.ndarray, mask: np.ndarray, *, near_max: float = 0.95) -> tuple[int, int, int]:
    """The centre of the hottest part of the structure ``mask``: where the slices through it should go.

    Among the voxels of ``mask`` whose heat is at least ``near_max`` times the structure's hottest, the one
    nearest their centroid (a plateau of equal heat gives its middle, not its first voxel); without heat on
    the structure, the voxel of ``mask`` nearest its centroid.

    Args:
        heatmap: ``(I, J, K)``.
        mask: ``(I, J, K)`` booleans, at least one ``True``.
        near_max: the fraction of the hottest value that counts as hottest.

    Example:
        >>> m = np.zeros((5, 5, 5), bool); m[1:4, 1:4, 2] = True
        >>> focus_voxel(np.zeros((5, 5, 5)), m), focus_voxel(m * 1.0, m)
        ((2, 2, 2), (2, 2, 2))
    """
    inside = np.argwhere(mask)
    values = heatmap[mask]
    hottest = float(values.max())
    candidates = inside[values >= near_max * hottest] if hottest > 0 else inside
    best = candidates[int(np.argmin(((candidates - candidates.mean(axis=0)) ** 2).sum(axis=1)))]
    return int(best[0]), int(best[1]), int(best[2])


def _field_of_view(mask: np.ndarray, sizes: tuple[float, float, float], margin_mm: float | None) -> list[slice]:
    """Per voxel axis, the mask's extent plus ``margin_mm`` (the whole axis for ``None``)."""
    if margin_mm is None:
        return [slice(0, n) for n in mask.shape]
    index = np.argwhere(mask)
    low, high = index.min(axis=0), index.max(axis=0) + 1
    field = []
    for axis, n in enumerate(mask.shape):
        pad = math.ceil(margin_mm / sizes[axis])
        field.append(slice(max(int(low[axis]) - pad, 0), min(int(high[axis]) + pad, n)))
    return field


def _write(
    volume: np.ndarray,
    heat: np.ndarray,
    inside: np.ndarray,
    focus: tuple[int, int, int],
    field: list[slice],
    path: str | os.PathLike[str],
    sizes: tuple[float, float, float],
    window: tuple[float, float],
    title: str | None,
    outline_label: str,
    style: OutlineStyle,
) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(12, 4), dpi=style.dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    for ax, (name, axis, letters) in zip(axes, RAS_PANELS, strict=True):
        plane = [a for a in range(3) if a != axis]  # (horizontal, vertical) voxel axes of the panel
        cut = tuple(slice(focus[a], focus[a] + 1) if a == axis else field[a] for a in range(3))
        image_slice, heat_slice, mask_slice = (np.squeeze(v[cut], axis=axis).T for v in (volume, heat, inside))
        aspect = sizes[plane[1]] / sizes[plane[0]]
        ax.imshow(image_slice, cmap="gray", vmin=window[0], vmax=window[1], origin="lower", aspect=aspect)
        shown = np.ma.masked_where(heat_slice < style.threshold, heat_slice)
        ax.imshow(shown, cmap=style.cmap, vmin=0.0, vmax=1.0, alpha=style.alpha, origin="lower", aspect=aspect)
        if mask_slice.any() and min(mask_slice.shape) > 1:
            levels = [0.5]
            ax.contour(
                mask_slice.astype(float), levels=levels, colors=[style.outline_color], linewidths=style.outline_width
            )
        x, y = focus[plane[0]] - field[plane[0]].start, focus[plane[1]] - field[plane[1]].start
        ax.plot(x, y, "+", color="#7fff00", markersize=10)
        ax.invert_xaxis()  # radiological: patient's right (high I) or anterior (high J) on the viewer's left
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{name} {'IJK'[axis].lower()}={focus[axis]}", fontsize=9)
        label_edges(ax, letters)
    scale = ScalarMappable(norm=Normalize(0.0, 1.0), cmap=style.cmap)  # opaque colours, unlike the overlay
    bar = fig.colorbar(scale, ax=list(axes), shrink=0.8, ticks=[0.0, 0.25, 0.5, 0.75, 1.0])
    bar.set_label("importance (0-1)")
    outline = Line2D([], [], color=style.outline_color, linewidth=style.outline_width, label=outline_label)
    fig.legend(handles=[outline], loc="outside lower center", fontsize=8, frameon=False)
    where = "slices through (i, j, k) = ({}, {}, {})".format(*focus)
    grey = f"window W{window[1] - window[0]:.4g} L{(window[0] + window[1]) / 2:.4g}"
    fig.suptitle(f"{title} | {where} | {grey}" if title else f"{where} | {grey}", fontsize=10)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
