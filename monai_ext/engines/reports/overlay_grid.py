"""A PNG grid of label overlays: one row per case, image / reference / prediction, in radiological orientation."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from monai_ext.io.atomic import atomic_path

__all__ = ["DEFAULT_LABEL_COLORS", "OverlayRow", "axial_overlay_row", "save_overlay_grid"]

DEFAULT_LABEL_COLORS: dict[int, tuple[int, int, int]] = {
    1: (230, 25, 75),
    2: (60, 180, 75),
    3: (0, 130, 200),
    4: (255, 225, 25),
    5: (145, 30, 180),
    6: (70, 240, 240),
}


@dataclass(frozen=True)
class OverlayRow:
    """One case of the grid: an axial slice of the image and of both label maps, ``(I, J)`` in RAS voxels."""

    title: str
    image: np.ndarray
    reference: np.ndarray
    prediction: np.ndarray


def axial_overlay_row(title: str, image: np.ndarray, reference: np.ndarray, prediction: np.ndarray) -> OverlayRow:
    """The axial slice (constant ``K``) where the reference labels cover the most voxels.

    Args:
        title: row title (case id and scores).
        image: ``(I, J, K)`` image in RAS voxel order.
        reference: ``(I, J, K)`` reference label map (the prediction is used when it is empty).
        prediction: ``(I, J, K)`` predicted label map.
    """
    basis = reference if np.any(reference) else prediction
    k = int(np.argmax((np.asarray(basis) > 0).sum(axis=(0, 1))))
    return OverlayRow(
        title, np.asarray(image)[:, :, k], np.asarray(reference)[:, :, k], np.asarray(prediction)[:, :, k]
    )


def _rgba(labels: np.ndarray, colors: Mapping[int, Sequence[int]], alpha: float) -> np.ndarray:
    out = np.zeros((*labels.shape, 4), dtype=np.float32)
    for value in np.unique(labels):
        if value == 0:
            continue
        rgb = colors.get(int(value), DEFAULT_LABEL_COLORS.get(int(value) % 6 + 1, (255, 255, 255)))
        out[labels == value] = (*_unit_rgb(rgb), alpha)
    return out


def _unit_rgb(rgb: Sequence[int]) -> tuple[float, float, float]:
    return (rgb[0] / 255.0, rgb[1] / 255.0, rgb[2] / 255.0)


def _display(plane: np.ndarray) -> np.ndarray:
    """``(I, J)`` RAS -> screen ``(rows, cols)``: patient right on the left, anterior at the top."""
    return np.asarray(plane)[::-1, ::-1].T


def save_overlay_grid(
    path: str | os.PathLike[str],
    rows: Sequence[OverlayRow],
    *,
    label_colors: Mapping[int, Sequence[int]] | None = None,
    label_names: Mapping[int, str] | None = None,
    alpha: float = 0.45,
) -> None:
    """Write the grid as a PNG (atomically): columns image, reference overlay, prediction overlay.

    Args:
        path: the PNG file.
        rows: the cases, top to bottom.
        label_colors: label value -> ``(r, g, b)`` 0-255 (default: a fixed palette).
        label_names: label value -> name, for the legend.
        alpha: opacity of the label colours.

    Raises:
        ValueError: no rows.
    """
    if not rows:
        raise ValueError("an overlay grid needs at least one case")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.patches import Patch

    colors = {**DEFAULT_LABEL_COLORS, **{int(k): tuple(v) for k, v in (label_colors or {}).items()}}
    fig, axes = plt.subplots(len(rows), 3, figsize=(6.6, 2.4 * len(rows) + 0.4), dpi=90, squeeze=False)
    for ax_row, row in zip(axes, rows, strict=True):
        image = _display(row.image)
        columns = ((None, "image"), (row.reference, "reference"), (row.prediction, "prediction"))
        for ax, (labels, name) in zip(ax_row, columns, strict=True):
            ax.imshow(image, cmap="gray", interpolation="nearest")
            if labels is not None:
                ax.imshow(_rgba(_display(labels), colors, alpha), interpolation="nearest")
            ax.set_axis_off()
            ax.set_title(f"{row.title}\n{name}" if name == "image" else name, fontsize=8)
    if label_names:
        handles = [Patch(color=_unit_rgb(colors[int(v)]), label=n) for v, n in sorted(label_names.items())]
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.03 if label_names else 0, 1, 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
