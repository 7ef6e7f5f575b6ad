"""DICOM series: scan folders, plan and load volumes with validated geometry."""

from __future__ import annotations

from monai_ext.io.dicom.load import load_dicom_series, load_plan, select_series
from monai_ext.io.dicom.planning.plan import VolumePlan, plan_volume
from monai_ext.io.dicom.scan import ScannedSeries, ScanResult, SkippedFile, scan

__all__ = [
    "ScanResult",
    "ScannedSeries",
    "SkippedFile",
    "VolumePlan",
    "load_dicom_series",
    "load_plan",
    "plan_volume",
    "scan",
    "select_series",
]
