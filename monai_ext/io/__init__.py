"""I/O: DICOM series and NIfTI readers/writers that return arrays with exact RAS geometry.

Only the error types are imported eagerly; everything else is loaded on first access (PEP 562), so that
importing one submodule (the DICOM command line does) pulls in neither torch and MONAI (for
:class:`DicomSeriesReader`, a MONAI ``ImageReader``) nor nibabel (for NIfTI) unless it is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from monai_ext.io.dicom import ScanResult, load_dicom_series, plan_volume, scan, select_series
    from monai_ext.io.dicom.write import write_dicom_series, write_enhanced_dicom
    from monai_ext.io.monai_reader import DicomSeriesReader
    from monai_ext.io.nifti import NiftiError, load_nifti, save_nifti
    from monai_ext.io.volume import Volume

_LAZY = {
    "ScanResult": "monai_ext.io.dicom",
    "load_dicom_series": "monai_ext.io.dicom",
    "plan_volume": "monai_ext.io.dicom",
    "scan": "monai_ext.io.dicom",
    "select_series": "monai_ext.io.dicom",
    "write_dicom_series": "monai_ext.io.dicom.write",
    "write_enhanced_dicom": "monai_ext.io.dicom.write",
    "DicomSeriesReader": "monai_ext.io.monai_reader",
    "NiftiError": "monai_ext.io.nifti",
    "load_nifti": "monai_ext.io.nifti",
    "save_nifti": "monai_ext.io.nifti",
    "Volume": "monai_ext.io.volume",
}

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
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'monai_ext.io' has no attribute {name!r}")
