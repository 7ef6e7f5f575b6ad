"""A three-plane PNG of a heatmap over its image, through the hottest voxel, in radiological orientation."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from monai_ext.explain.display.panels import RAS_PANELS, as_volume, label_edges, voxel_sizes
from monai_ext.io.atomic import atomic_path

__all__ = ["save_overlay_montage"]


def save_overlay_montage(
    image: torch.Tensor | np.ndarray,
    heatmap: torch.Tensor | np.ndarray,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    cmap: str = "inferno",
    alpha: float = 0.5,
    threshold: float = 0.0,
    spacing: Sequence[float] | None = None,
    dpi: int = 100,
) -> tuple[int, int, int]:
    """Write a PNG with axial, coronal and sagittal slices through the hottest voxel of ``heatmap``.

    Both volumes are indexed ``(I, J, K)`` in RAS voxel order, as MONAI and NIfTI arrays with an RAS
    affine: ``I`` runs from the patient's left to right, ``J`` from posterior to anterior, ``K`` from
    inferior to superior. Each panel shows its 2D slice transposed (``slice.T``, so the second remaining
    axis is vertical) with ``origin="lower"`` (that axis increases upwards) and the horizontal axis
    reversed, which gives the radiological convention used by scanners and 3D Slicer:

    - axial (slice ``K = k``, plane ``(I, J)``): anterior up, patient's right on the viewer's left;
    - coronal (slice ``J = j``, plane ``(I, K)``): superior up, patient's right on the viewer's left;
    - sagittal (slice ``I = i``, plane ``(J, K)``): superior up, anterior on the viewer's left.

    Orientation letters mark the panel edges and a cross marks the hottest voxel. The image is drawn in grey
    (0.5th to 99.5th percentile), the heatmap on top with ``alpha`` and colours fixed to [0, 1] (a colour bar
    shows the scale); heatmap values below ``threshold`` are transparent. NaNs in the heatmap count as 0.
    The file is written atomically (temporary file beside ``path``, then renamed); an existing ``path`` is
    replaced only when the whole PNG was written.

    Args:
        image: ``(I, J, K)`` volume; leading axes of size 1 (``(1, 1, I, J, K)``) are dropped.
        heatmap: the same grid, values in [0, 1] (e.g. one map of :func:`grad_cam`).
        path: output ``.png``.
        title: figure title.
        cmap: matplotlib colour map of the heatmap.
        alpha: opacity of the heatmap.
        threshold: heatmap values below it are not drawn.
        spacing: voxel size ``(sI, sJ, sK)`` in mm, for true aspect ratios; ``None`` = isotropic.
        dpi: the PNG is ``12 x 4`` inches at this resolution (``1200 x 400`` pixels at 100 dpi).

    Returns:
        The hottest voxel ``(i, j, k)``, i.e. ``np.unravel_index(np.argmax(heatmap), heatmap.shape)``.

    Raises:
        ValueError: the volumes are not 3D or their shapes differ, or ``spacing`` is not 3 positive numbers.

    Example:
        >>> import tempfile, pathlib
        >>> heat = np.zeros((8, 9, 10)); heat[2, 3, 4] = 1
        >>> save_overlay_montage(np.random.rand(8, 9, 10), heat, pathlib.Path(tempfile.mkdtemp()) / "m.png")
        (2, 3, 4)
    """
    volume, heat = as_volume(image, "image"), np.nan_to_num(as_volume(heatmap, "heatmap"), nan=0.0)
    if volume.shape != heat.shape:
        raise ValueError(f"image {volume.shape} and heatmap {heat.shape} are not in the same grid")
    sizes = voxel_sizes(spacing)
    hottest = tuple(int(v) for v in np.unravel_index(int(np.argmax(heat)), heat.shape))
    _write(volume, heat, hottest, path, sizes, title=title, cmap=cmap, alpha=alpha, threshold=threshold, dpi=dpi)
    return hottest[0], hottest[1], hottest[2]


def _write(
    volume: np.ndarray,
    heat: np.ndarray,
    hottest: tuple[int, ...],
    path: str | os.PathLike[str],
    sizes: tuple[float, ...],
    *,
    title: str | None,
    cmap: str,
    alpha: float,
    threshold: float,
    dpi: int,
) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    grey = np.percentile(volume, [0.5, 99.5])
    where = "(i, j, k) = ({}, {}, {})".format(*hottest)
    for ax, (name, axis, letters) in zip(axes, RAS_PANELS, strict=True):
        plane = [a for a in range(3) if a != axis]  # (horizontal, vertical) voxel axes of the panel
        image_slice = np.take(volume, hottest[axis], axis=axis).T
        heat_slice = np.take(heat, hottest[axis], axis=axis).T
        aspect = sizes[plane[1]] / sizes[plane[0]]
        ax.imshow(image_slice, cmap="gray", vmin=grey[0], vmax=grey[1], origin="lower", aspect=aspect)
        shown = np.ma.masked_where(heat_slice < threshold, heat_slice)
        ax.imshow(shown, cmap=cmap, vmin=0.0, vmax=1.0, alpha=alpha, origin="lower", aspect=aspect)
        ax.plot(hottest[plane[0]], hottest[plane[1]], "+", color="cyan", markersize=10)
        ax.invert_xaxis()  # radiological: patient's right (high I) or anterior (high J) on the viewer's left
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{name} {'IJK'[axis].lower()}={hottest[axis]}  {where}", fontsize=9)
        label_edges(ax, letters)
    scale = ScalarMappable(norm=Normalize(0.0, 1.0), cmap=cmap)  # opaque colours, unlike the overlay
    bar = fig.colorbar(scale, ax=list(axes), shrink=0.8, ticks=[0.0, 0.25, 0.5, 0.75, 1.0])
    bar.set_label("importance (0-1)")
    if title:
        fig.suptitle(title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
