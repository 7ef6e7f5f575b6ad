"""A heatmap or anomaly map as a DICOM Parametric Map (float32 frames) on the source frames."""

from __future__ import annotations

import highdicom as hd
import numpy as np
from pydicom.sr.codedict import codes

from monai_ext.dicom_results.equipment import MANUFACTURER, Algorithm
from monai_ext.dicom_results.source import SourceSeries

__all__ = ["parametric_map"]


def parametric_map(
    values: np.ndarray,
    source: SourceSeries,
    *,
    name: str,
    algorithm: Algorithm,
    value_range: tuple[float, float] | None = None,
    series_number: int = 903,
) -> hd.pm.ParametricMap:
    """A Parametric Map whose frame ``k`` lies on source image ``k``.

    Args:
        values: ``(I, J, K)`` map on the source grid (e.g. a Grad-CAM heatmap in [0, 1]).
        source: the source series.
        name: what the map is (``LUTLabel``, ``SeriesDescription``).
        algorithm: the bundle that made it.
        value_range: the range the values may take (default: their min and max); stored in the
            real-world value mapping with unit ``1`` (no units).
        series_number: of the new series.
    """
    frames = source.to_frames(np.asarray(values, dtype=np.float32))
    low, high = value_range if value_range is not None else (float(frames.min()), float(frames.max()))
    mapping = hd.pm.RealWorldValueMapping(
        lut_label=name[:16],
        lut_explanation=f"{algorithm.name}: {name}"[:64],
        unit=codes.UCUM.NoUnits,
        value_range=(float(low), float(high)),
        slope=1.0,
        intercept=0.0,
    )
    width = max(float(high - low), 1e-6)
    pmap = hd.pm.ParametricMap(
        source_images=source.datasets,
        pixel_array=frames,
        series_instance_uid=hd.UID(),
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        contains_recognizable_visual_features=False,
        real_world_value_mappings=[mapping],
        voi_lut_transformations=[hd.VOILUTTransformation(window_center=float(low + width / 2), window_width=width)],
        content_description=f"{name} ({algorithm.name})"[:64],
        series_description=name[:64],
        manufacturer=MANUFACTURER,
        manufacturer_model_name=algorithm.model_name,
        software_versions=algorithm.software_versions,
        device_serial_number=algorithm.serial_number,
    )
    # General Series Laterality is type 2C: keep the source's, else send it empty (unknown), which
    # validators expect when neither Image nor Frame Laterality is present.
    pmap.Laterality = source.datasets[0].get("Laterality", "")
    return pmap
