"""I/O: DICOM series and NIfTI readers/writers that return arrays with exact RAS geometry.

Nothing here imports torch or MONAI on import: :class:`DicomSeriesReader` (a MONAI ``ImageReader``) is loaded
on first access, so the DICOM command line starts fast.
"""

from __future__ import annotations

from typing import Any

from monai_ext.io.dicom import ScanResult, load_dicom_series, plan_volume, scan, select_series
from monai_ext.io.dicom.write import write_dicom_series, write_enhanced_dicom
from monai_ext.io.errors import (
    CorruptDicomError,
    DicomError,
    DuplicateSliceError,
    GantryTiltError,
    InconsistentSeriesError,
    MissingDecoderError,
    MissingGeometryError,
    MissingSliceError,
    MultipleSeriesError,
    MultipleStacksError,
    NonUniformSpacingError,
    NoSeriesError,
    NotAnImageError,
    UnsupportedImageError,
)
from monai_ext.io.nifti import NiftiError, load_nifti, save_nifti
from monai_ext.io.volume import Volume

__all__ = [
    "CorruptDicomError",
    "DicomError",
    "DicomSeriesReader",
    "DuplicateSliceError",
    "GantryTiltError",
    "InconsistentSeriesError",
    "MissingDecoderError",
    "MissingGeometryError",
    "MissingSliceError",
    "MultipleSeriesError",
    "MultipleStacksError",
    "NiftiError",
    "NoSeriesError",
    "NonUniformSpacingError",
    "NotAnImageError",
    "ScanResult",
    "UnsupportedImageError",
    "Volume",
    "load_dicom_series",
    "load_nifti",
    "plan_volume",
    "save_nifti",
    "scan",
    "select_series",
    "write_dicom_series",
    "write_enhanced_dicom",
]


def __getattr__(name: str) -> Any:
    if name == "DicomSeriesReader":
        from monai_ext.io.monai_reader import DicomSeriesReader

        return DicomSeriesReader
    raise AttributeError(f"module 'monai_ext.io' has no attribute {name!r}")
