"""DICOM SEG from a label map, from 0/1 masks (one per region), or from a heatmap above a threshold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import highdicom as hd
import numpy as np
from pydicom.sr.codedict import codes

from monai_ext.dicom_results.equipment import MANUFACTURER, Algorithm
from monai_ext.dicom_results.errors import DicomResultError
from monai_ext.dicom_results.source import SourceSeries

__all__ = ["Segment", "heatmap_segmentation", "segmentation"]


@dataclass(frozen=True, kw_only=True)
class Segment:
    """One segment: its value in a label map (or channel index of a mask stack), name and display colour.

    Attributes:
        value: label value (``"labels"``) or channel index (``"multilabel"``).
        name: shown by viewers (``SegmentLabel``).
        color: ``(r, g, b)``, 0-255.
    """

    value: int
    name: str
    color: tuple[int, int, int] = (255, 0, 0)


def segmentation(
    masks: np.ndarray,
    source: SourceSeries,
    segments: Sequence[Segment],
    *,
    algorithm: Algorithm,
    kind: str = "labels",
    series_number: int = 901,
    description: str = "segmentation",
) -> hd.seg.Segmentation:
    """A binary DICOM SEG on the source frames.

    Args:
        masks: ``(I, J, K)`` label map (``kind="labels"``) or ``(I, J, K, C)`` 0/1 masks
            (``kind="multilabel"``), on the source grid.
        source: the source series (see :func:`~monai_ext.dicom_results.read_source_series`).
        segments: the labels to include (background excluded); segment numbers follow this order.
        algorithm: the bundle that made it.
        kind: ``"labels"`` or ``"multilabel"``.
        series_number: of the new series.
        description: ``SeriesDescription`` and ``ContentDescription``.

    Returns:
        The SEG dataset (not yet written).

    Raises:
        DicomResultError: no segments, or every listed segment is empty.
    """
    if not segments:
        raise DicomResultError(f"{description}: no segments to write")
    if kind == "labels":
        stack = np.stack([masks == s.value for s in segments], axis=-1)
    elif kind == "multilabel":
        stack = np.stack([masks[..., s.value] > 0 for s in segments], axis=-1)
    else:
        raise DicomResultError(f"{description}: kind must be 'labels' or 'multilabel', got {kind!r}")
    if not stack.any():
        raise DicomResultError(f"{description}: every segment is empty")
    frames = source.to_frames(stack.astype(np.uint8))
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=s.name[:64],
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm.identification(),
            display_color=hd.color.CIELabColor.from_rgb(*s.color),
        )
        for number, s in enumerate(segments, start=1)
    ]
    return hd.seg.Segmentation(
        source_images=source.datasets,
        pixel_array=frames,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        content_description=description[:64],
        series_description=description[:64],
        manufacturer=MANUFACTURER,
        manufacturer_model_name=algorithm.model_name,
        software_versions=algorithm.software_versions,
        device_serial_number=algorithm.serial_number,
    )


def heatmap_segmentation(
    heatmap: np.ndarray,
    source: SourceSeries,
    *,
    threshold: float,
    name: str,
    algorithm: Algorithm,
    series_number: int = 902,
) -> hd.seg.Segmentation:
    """A one-segment SEG of ``heatmap >= threshold`` (``(I, J, K)`` on the source grid)."""
    mask = (np.asarray(heatmap) >= threshold).astype(np.uint8)
    segment = Segment(value=1, name=f"{name} >= {threshold:g}", color=(255, 64, 0))
    return segmentation(
        mask,
        source,
        [segment],
        algorithm=algorithm,
        series_number=series_number,
        description=f"{name} >= {threshold:g}",
    )
