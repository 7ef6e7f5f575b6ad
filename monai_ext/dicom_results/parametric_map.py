"""A heatmap or anomaly map as a DICOM Parametric Map on the source frames (16-bit with a value mapping)."""

from __future__ import annotations

import highdicom as hd
import numpy as np
from pydicom.sr.codedict import codes

from monai_ext.dicom_results.equipment import MANUFACTURER, Algorithm
from monai_ext.dicom_results.source import SourceSeries

__all__ = ["parametric_map"]

_LEVELS = 65535


def parametric_map(
    values: np.ndarray,
    source: SourceSeries,
    *,
    name: str,
    algorithm: Algorithm,
    value_range: tuple[float, float] | None = None,
    series_number: int = 903,
    description: str | None = None,
) -> hd.pm.ParametricMap:
    """A Parametric Map whose frame ``k`` lies on source image ``k``.

    With a ``value_range`` (e.g. ``(0, 1)`` for heatmaps) the map is stored as 16-bit integers with a
    real-world value mapping ``low + pixel * (high - low) / 65535`` (exact for our uint8 heatmaps, since
    65535 = 257 x 255, and half the size of float32); without one, as float32 frames.

    Args:
        values: ``(I, J, K)`` map on the source grid (e.g. a Grad-CAM heatmap in [0, 1]).
        source: the source series.
        name: what the map is (``LUTLabel``, ``SeriesDescription``).
        algorithm: the bundle that made it.
        value_range: the range of the values (values outside are clipped); unit ``1`` (no units).
        series_number: of the new series.
        description: the series and content description (default ``name``), e.g. ``"heatmap (occlusion)"``.
    """
    description = description or name
    frames = source.to_frames(np.asarray(values, dtype=np.float32))
    if value_range is not None:
        low, high = float(value_range[0]), float(value_range[1])
        scale = (high - low) / _LEVELS
        pixels = np.rint((np.clip(frames, low, high) - low) / scale).astype(np.uint16)
        mapping_range: tuple[int, int] | tuple[float, float] = (0, _LEVELS)
        slope, intercept = scale, low
    else:
        low, high = float(frames.min()), float(frames.max())
        pixels, mapping_range, slope, intercept = frames, (low, high), 1.0, 0.0
    mapping = hd.pm.RealWorldValueMapping(
        lut_label=name[:16],
        lut_explanation=f"{algorithm.name}: {name}"[:64],
        unit=codes.UCUM.NoUnits,
        value_range=mapping_range,
        slope=slope,
        intercept=intercept,
    )
    stored_low, stored_high = (0.0, float(_LEVELS)) if value_range is not None else (low, high)
    width = max(stored_high - stored_low, 1e-6)
    pmap = hd.pm.ParametricMap(
        source_images=source.datasets,
        pixel_array=pixels,
        series_instance_uid=hd.UID(),
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        contains_recognizable_visual_features=False,
        real_world_value_mappings=[mapping],
        voi_lut_transformations=[hd.VOILUTTransformation(window_center=stored_low + width / 2, window_width=width)],
        content_description=f"{description} ({algorithm.name})"[:64],
        series_description=description[:64],
        manufacturer=MANUFACTURER,
        manufacturer_model_name=algorithm.model_name,
        software_versions=algorithm.software_versions,
        device_serial_number=algorithm.serial_number,
    )
    # General Series Laterality is type 2C: keep the source's, else send it empty (unknown), which
    # validators expect when neither Image nor Frame Laterality is present.
    pmap.Laterality = source.datasets[0].get("Laterality", "")
    return pmap
