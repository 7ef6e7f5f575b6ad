"""The grey-level range to display an intensity image with: a CT soft-tissue window, or robust percentiles."""

from __future__ import annotations

import numpy as np

from monai_ext.transforms.intensity.ct_window import CT_WINDOW_PRESETS

__all__ = ["CT_AIR_HU", "display_range", "looks_like_ct"]

#: A volume whose 0.5th percentile lies below this (HU) holds air: a CT in Hounsfield units.
CT_AIR_HU = -500.0
_SAMPLE = 2_000_000  # percentiles of larger volumes are taken on an evenly strided subset of about this size


def looks_like_ct(volume: np.ndarray) -> bool:
    """Whether ``volume`` looks like a CT in HU: its 0.5th percentile is below :data:`CT_AIR_HU` (air).

    MR, PET and normalised images have no such values; a CT cropped inside the body (no air) is not recognised
    and gets percentiles, which still show it.
    """
    return bool(_percentiles(volume, 0.5)[0] < CT_AIR_HU)


def display_range(volume: np.ndarray, *, modality: str | None = None) -> tuple[float, float]:
    """``(low, high)`` intensities shown as black and white.

    A CT (``modality == "CT"``, or with no modality when :func:`looks_like_ct`) gets the soft-tissue window
    W400/L40 HU (``-160`` to ``240`` HU, the ``"abdomen"`` preset of :data:`~monai_ext.transforms.CT_WINDOW_PRESETS`);
    any other image its 0.5th and 99.5th percentiles (``high > low`` even for a constant image).

    Args:
        volume: an intensity image, any shape (e.g. ``(I, J, K)``), HU for a CT.
        modality: the DICOM modality (``"CT"``, ``"MR"``, ...), ``None`` when unknown (NIfTI/NRRD files).

    Example:
        >>> ct = np.full((8, 8, 8), -1000.0); ct[2:6, 2:6, 2:6] = 40.0
        >>> display_range(ct)
        (-160.0, 240.0)
        >>> display_range(np.arange(1000.0), modality="MR")
        (4.995, 994.005)
    """
    is_ct = modality.upper() == "CT" if modality else looks_like_ct(volume)
    if is_ct:
        window = CT_WINDOW_PRESETS["abdomen"]
        return window.lower, window.upper
    low, high = _percentiles(volume, 0.5, 99.5)
    return (low, high) if high > low else (low, low + 1.0)


def _percentiles(volume: np.ndarray, *q: float) -> list[float]:
    values = np.asarray(volume).ravel()
    if values.size > _SAMPLE:
        values = values[:: values.size // _SAMPLE]
    finite = values[np.isfinite(values)]
    if not finite.size:
        return [0.0] * len(q)
    return [float(v) for v in np.percentile(finite, q)]
