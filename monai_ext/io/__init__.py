"""I/O: DICOM series and NIfTI readers/writers that return arrays with exact RAS geometry."""

from __future__ import annotations

import importlib
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
    # DicomSeriesReader needs MONAI (and torch): imported on first use so that DICOM and PACS tools stay light.
    if name == "DicomSeriesReader":
        return importlib.import_module("monai_ext.io.monai_reader").DicomSeriesReader
    raise AttributeError(f"module 'monai_ext.io' has no attribute {name!r}")
