"""A run's heatmap montage over its background image (the CT under a label map), the input mask outlined."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from monai.data import MetaTensor

from monai_ext.bundle.result import RunResult

__all__ = ["background_summary", "save_background_montage"]


def save_background_montage(result: RunResult, heatmap: np.ndarray, png: Path, *, title: str) -> Path:
    """Write the PNG of ``heatmap`` over ``result.background``, ``result.image > 0`` outlined, through the mask.

    The background is shown in the ``window`` chosen when it was loaded
    (:func:`~monai_ext.bundle.inputs.background.background_on_grid`: W400/L40 HU for a CT, percentiles otherwise); the
    volumes are put in RAS voxel order for the radiological panels.

    Args:
        result: a run whose ``background`` is set, on the grid of ``result.image`` (the mask).
        heatmap: ``(I, J, K)`` on that grid, in [0, 1].
        png: the output file.
        title: the figure title.

    Raises:
        ValueError: ``result.background`` is ``None``, or the volumes are not on one grid.
    """
    from monai_ext.explain.display.outline_montage import save_outline_montage
    from monai_ext.explain.display.ras_order import to_ras_order

    if result.background is None:
        raise ValueError("the run has no background image")
    affine = np.asarray(result.image.affine)
    background = result.background.as_tensor()[0].numpy()
    black, white = result.background.meta["window"]
    window = (float(black), float(white))
    (shown, ras_spacing), (heat, _) = to_ras_order(background, affine), to_ras_order(heatmap, affine)
    mask, _ = to_ras_order(result.image.as_tensor()[0].numpy() > 0, affine)
    outline = result.structure or "segmentation"
    save_outline_montage(shown, heat, mask, png, window=window, spacing=ras_spacing, title=title, outline_label=outline)
    return png


def background_summary(background: MetaTensor | None) -> dict[str, Any] | None:
    """``result.json``'s ``"background"``: the image the montages are drawn over, or ``None``.

    ``{"path", "modality" (or ``None``), "resampled" (onto the input's grid), "window" ([black, white])}``, from the
    background's ``meta`` (:func:`~monai_ext.bundle.inputs.background.background_on_grid`).
    """
    if background is None:
        return None
    name = str(background.meta.get("filename_or_obj", "in-memory volume"))
    path = name if name == "in-memory volume" else str(Path(name).resolve())
    modality = background.meta.get("modality")
    resampled = bool(background.meta.get("resampled"))
    return {"path": path, "modality": modality, "resampled": resampled, "window": list(background.meta["window"])}
