"""JSON sidecar of key acquisition metadata, with every patient-identifying field left out."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pydicom

import monai_ext
from monai_ext.io.volume import Volume

__all__ = ["ACQUISITION_KEYWORDS", "IDENTIFYING_KEYS", "sidecar_dict", "sidecar_json"]

# Copied from the first source file when present (BIDS-like names: the DICOM keywords themselves).
ACQUISITION_KEYWORDS: tuple[str, ...] = (
    "Modality", "Manufacturer", "ManufacturerModelName", "SoftwareVersions", "MagneticFieldStrength",
    "BodyPartExamined", "PatientPosition", "ProtocolName", "SeriesDescription", "SeriesNumber", "ImageType",
    "ScanningSequence", "SequenceVariant", "SequenceName", "RepetitionTime", "EchoTime", "InversionTime",
    "FlipAngle", "EchoTrainLength", "KVP", "XRayTubeCurrent", "ExposureTime", "ConvolutionKernel",
    "ReconstructionDiameter", "SliceThickness", "SpacingBetweenSlices", "ContrastBolusAgent",
)  # fmt: skip

# Never written, even if a caller passes them in ``extra``.
IDENTIFYING_KEYS = frozenset(
    {
        "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientAge", "PatientAddress",
        "OtherPatientIDs", "AccessionNumber", "InstitutionName", "InstitutionAddress",
        "ReferringPhysicianName", "PerformingPhysicianName", "OperatorsName", "StudyDate", "SeriesDate",
        "AcquisitionDate", "ContentDate", "StudyTime", "StudyID", "StudyInstanceUID", "SeriesInstanceUID",
        "SOPInstanceUID", "DeviceSerialNumber", "StationName", "series_uid", "source_files",
    }
)  # fmt: skip


def _jsonable(value: Any) -> Any:
    if isinstance(value, pydicom.multival.MultiValue | list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _acquisition_fields(path: Path) -> dict[str, Any]:
    """Acquisition fields of the first source file; read with ``force`` as the scan did (files without a
    preamble), and empty when the file cannot be read again (its geometry and pixels are already loaded)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True, specific_tags=list(ACQUISITION_KEYWORDS))
        return {k: _jsonable(ds.get(k)) for k in ACQUISITION_KEYWORDS if ds.get(k) not in (None, "")}
    except Exception:  # pydicom raises many types on malformed input; the sidecar then lists no such fields
        return {}


def sidecar_dict(volume: Volume, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Key metadata of a loaded volume: acquisition fields, geometry, rescale and problems.

    Args:
        volume: a volume from :func:`~monai_ext.io.dicom.load.load_dicom_series` (or any reader).
        extra: further fields to include.

    Returns:
        A JSON-serialisable dict without patient-identifying fields.
    """
    meta = volume.meta
    out: dict[str, Any] = {}
    sources = meta.get("source_files") or []
    if sources and Path(sources[0]).exists():
        out.update(_acquisition_fields(Path(sources[0])))
    out.update(
        {
            "ImageOrientationPatientDICOM": meta.get("orientation_lps"),
            "SliceSpacingFromPositions": meta.get("spacing", [None] * 3)[2],
            "VoxelSize": [round(float(s), 6) for s in volume.spacing],
            "Shape": list(volume.shape),
            "RescaleSlopesApplied": meta.get("rescale_slope"),
            "RescaleInterceptsApplied": meta.get("rescale_intercept"),
            "TransferSyntaxUID": meta.get("transfer_syntax"),
            "FrameAxis": meta.get("frame_axis"),
            "VolumeTimeStep": meta.get("time_step_s"),
            "DiffusionBValues": meta.get("b_values"),
            "DiffusionGradientsLPS": meta.get("gradients_lps"),
            "FrameValues": meta.get("frame_values"),
            "Resampled": meta.get("resampled", False),
            "Problems": meta.get("problems", []),
            "NumberOfSourceFiles": len(sources),
            "ConversionSoftware": "monai-ext",
            "ConversionSoftwareVersion": monai_ext.__version__,
        }
    )
    out.update(extra or {})
    return {k: _jsonable(v) for k, v in out.items() if k not in IDENTIFYING_KEYS and v is not None}


def sidecar_json(volume: Volume, extra: dict[str, Any] | None = None) -> str:
    """:func:`sidecar_dict` as indented JSON text."""
    return json.dumps(sidecar_dict(volume, extra), indent=2, sort_keys=True) + "\n"
