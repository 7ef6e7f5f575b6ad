"""Results as standard DICOM objects (highdicom): SEG, Parametric Map and Comprehensive 3D SR (TID 1500).

Every object references the source series it was computed from and lies on its frames, so PACS viewers
and 3D Slicer's DICOM module (with QuantitativeReporting) show it over the source images.
"""

from __future__ import annotations

from monai_ext.dicom_results.equipment import Algorithm
from monai_ext.dicom_results.errors import DicomResultError, GridMismatchError
from monai_ext.dicom_results.parametric_map import parametric_map
from monai_ext.dicom_results.report import SegmentVolume, measurement_report
from monai_ext.dicom_results.segmentation import Segment, heatmap_segmentation, segmentation
from monai_ext.dicom_results.source import SourceSeries, read_source_series
from monai_ext.dicom_results.writer import DicomResults, write_dataset, write_dicom_results

__all__ = [
    "Algorithm",
    "DicomResultError",
    "DicomResults",
    "GridMismatchError",
    "Segment",
    "SegmentVolume",
    "SourceSeries",
    "heatmap_segmentation",
    "measurement_report",
    "parametric_map",
    "read_source_series",
    "segmentation",
    "write_dataset",
    "write_dicom_results",
]
