"""Per-image header records: what the loader needs from each DICOM file or frame, read once.

Headers are parsed with pixel data deferred: the file offset of the raw pixel bytes is kept so that
uncompressed pixel data can later be read straight into the output volume without a second parse.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pydicom.tag import Tag

from monai_ext.io.dicom.headers.diffusion_tags import read_diffusion
from monai_ext.io.dicom.headers.fastget import fast_get
from monai_ext.io.dicom.headers.header_values import first_float, float_tuple, int_or_none

__all__ = [
    "HEADER_KEYWORDS",
    "MosaicTile",
    "SeriesIdentity",
    "SliceHeader",
    "first_float",
    "float_tuple",
    "header_from_dataset",
    "header_from_fields",
    "series_identity",
]

PIXEL_DATA_TAG = Tag(0x7FE0, 0x0010)

_GE_PARTS = {0: "M", 1: "P", 2: "R", 3: "I"}
_PART_NAMES = {"MAGNITUDE": "M", "PHASE": "P", "REAL": "R", "IMAGINARY": "I", "M": "M", "P": "P", "R": "R", "I": "I"}

# Every keyword :func:`header_from_fields` reads (both header readers fetch these and nothing else).
HEADER_KEYWORDS: tuple[str, ...] = (
    "SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID", "Modality", "Rows", "Columns",
    "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "SliceThickness", "RescaleSlope",
    "RescaleIntercept", "BitsAllocated", "BitsStored", "PixelRepresentation", "SamplesPerPixel",
    "PhotometricInterpretation", "InstanceNumber", "AcquisitionNumber", "EchoNumbers", "EchoTime",
    "TemporalPositionIdentifier", "TriggerTime", "NumberOfFrames", "ImageType", "AcquisitionTime",
    "Manufacturer", "ComplexImageComponent", "SpacingBetweenSlices", "GEImageType", "GEPulseSequenceName",
    "SiemensNumberOfImagesInMosaic", "RepetitionTime",
)  # fmt: skip


@dataclass(frozen=True)
class SeriesIdentity:
    """Series-level descriptive fields (for listings; patient fields are never written to outputs)."""

    series_uid: str
    study_uid: str
    patient_id: str
    patient_name: str
    study_date: str
    study_description: str
    series_description: str
    series_number: int | None
    modality: str
    manufacturer: str
    model: str


@dataclass(frozen=True)
class SliceHeader:
    """One 2D image (a single-frame file, or one frame of a multi-frame file).

    Positions and directions are in DICOM patient coordinates (LPS, mm).
    """

    path: Path
    frame: int | None
    sop_instance_uid: str
    series_uid: str
    rows: int
    columns: int
    position: tuple[float, float, float] | None
    orientation: tuple[float, float, float, float, float, float] | None
    pixel_spacing: tuple[float, float] | None
    slice_thickness: float | None
    rescale_slope: float
    rescale_intercept: float
    bits_allocated: int
    bits_stored: int
    pixel_signed: bool
    samples_per_pixel: int
    photometric: str
    transfer_syntax: str
    instance_number: int | None
    acquisition_number: int | None
    echo_number: int | None
    echo_time: float | None
    temporal_position: int | None
    trigger_time: float | None
    stack_id: str | None = None
    number_of_frames: int = 1
    pixel_offset: int | None = None
    pixel_length: int | None = None
    image_type: tuple[str, ...] = ()
    acquisition_time: str | None = None
    manufacturer: str = ""
    b_value: float | None = None
    gradient: tuple[float, float, float] | None = None
    complex_part: str | None = None
    pulse_sequence: str | None = None
    spacing_between_slices: float | None = None
    repetition_time: float | None = None
    mosaic: MosaicTile | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def image_key(self) -> tuple[str, int | None, int | None]:
        """Identity of the image: SOP instance, frame and mosaic tile."""
        return (self.sop_instance_uid, self.frame, self.mosaic.index if self.mosaic else None)


@dataclass(frozen=True)
class MosaicTile:
    """Where one slice of a Siemens mosaic lies in the stored image.

    Attributes:
        index: slice index within the mosaic (tile order: row-major).
        per_side: tiles per row (and per column) of the mosaic.
        stored_rows: rows of the whole stored image.
        stored_columns: columns of the whole stored image.
    """

    index: int
    per_side: int
    stored_rows: int
    stored_columns: int


def _pixel_location(ds: Dataset) -> tuple[int | None, int | None]:
    """File offset and byte length of native (uncompressed) pixel data, when pydicom deferred it."""
    raw = ds._dict.get(PIXEL_DATA_TAG)
    offset = getattr(raw, "value_tell", None)
    length = getattr(raw, "length", None)
    if offset is None or length is None or length == 0xFFFFFFFF:
        return None, None
    return int(offset), int(length)


def series_identity(ds: Dataset) -> SeriesIdentity:
    """Series-level descriptive fields of a dataset."""
    return SeriesIdentity(
        series_uid=str(ds.get("SeriesInstanceUID", "")),
        study_uid=str(ds.get("StudyInstanceUID", "")),
        patient_id=str(ds.get("PatientID", "")),
        patient_name=str(ds.get("PatientName", "")),
        study_date=str(ds.get("StudyDate", "")),
        study_description=str(ds.get("StudyDescription", "")),
        series_description=str(ds.get("SeriesDescription", "")),
        series_number=int_or_none(ds.get("SeriesNumber")),
        modality=str(ds.get("Modality", "")),
        manufacturer=str(ds.get("Manufacturer", "")),
        model=str(ds.get("ManufacturerModelName", "")),
    )


def header_from_dataset(ds: Dataset, path: Path, transfer_syntax: str) -> SliceHeader:
    """Build the :class:`SliceHeader` of a single-frame image dataset (pixel data deferred)."""
    offset, length = _pixel_location(ds)
    return header_from_fields(functools.partial(fast_get, ds), path, transfer_syntax, offset, length)


def header_from_fields(
    get: Callable[..., Any], path: Path, transfer_syntax: str, offset: int | None, length: int | None
) -> SliceHeader:
    """Build a :class:`SliceHeader` from a ``get(keyword, default=None)`` accessor.

    Args:
        get: returns plain values (``str``/``list[str]`` for text VRs, numbers for binary VRs).
        path: the file.
        transfer_syntax: its transfer syntax UID.
        offset: file offset of native pixel data (``None`` if encapsulated or unknown).
        length: its length in bytes.
    """
    orientation = float_tuple(get("ImageOrientationPatient"))
    orientation = orientation if orientation and len(orientation) == 6 else None
    position = float_tuple(get("ImagePositionPatient"))
    spacing = float_tuple(get("PixelSpacing"))
    manufacturer = str(get("Manufacturer", "") or "")
    b_value, gradient = read_diffusion(get, orientation, manufacturer)
    image_type = _text_tuple(get("ImageType"))
    return SliceHeader(
        path=path,
        frame=None,
        sop_instance_uid=str(get("SOPInstanceUID", "")),
        series_uid=str(get("SeriesInstanceUID", "")),
        rows=int(get("Rows", 0) or 0),
        columns=int(get("Columns", 0) or 0),
        position=position if position and len(position) == 3 else None,
        orientation=orientation,
        pixel_spacing=spacing if spacing and len(spacing) == 2 else None,
        slice_thickness=first_float(get("SliceThickness")),
        rescale_slope=first_float(get("RescaleSlope")) or 1.0,
        rescale_intercept=first_float(get("RescaleIntercept")) or 0.0,
        bits_allocated=int(get("BitsAllocated", 16) or 16),
        bits_stored=int(get("BitsStored", get("BitsAllocated", 16)) or 16),
        pixel_signed=int(get("PixelRepresentation", 0) or 0) == 1,
        samples_per_pixel=int(get("SamplesPerPixel", 1) or 1),
        photometric=str(get("PhotometricInterpretation", "MONOCHROME2")),
        transfer_syntax=transfer_syntax,
        instance_number=int_or_none(get("InstanceNumber")),
        acquisition_number=int_or_none(get("AcquisitionNumber")),
        echo_number=int_or_none(get("EchoNumbers")),
        echo_time=first_float(get("EchoTime")),
        temporal_position=int_or_none(get("TemporalPositionIdentifier")),
        trigger_time=first_float(get("TriggerTime")),
        number_of_frames=int_or_none(get("NumberOfFrames")) or 1,
        pixel_offset=offset,
        pixel_length=length,
        image_type=image_type,
        acquisition_time=str(get("AcquisitionTime")) if get("AcquisitionTime") else None,
        manufacturer=manufacturer,
        b_value=b_value,
        gradient=gradient,
        complex_part=_complex_part(get, image_type),
        pulse_sequence=str(get("GEPulseSequenceName")) if get("GEPulseSequenceName") else None,
        spacing_between_slices=first_float(get("SpacingBetweenSlices")),
        repetition_time=first_float(get("RepetitionTime")),
    )


def _text_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    return tuple(str(v).strip().upper() for v in items)


def _complex_part(get: Callable[..., Any], image_type: tuple[str, ...]) -> str | None:
    """``M``/``P``/``R``/``I`` from ComplexImageComponent, GE's private image type, or the ImageType values."""
    component = str(get("ComplexImageComponent", "") or "").upper()
    if component in _PART_NAMES:
        return _PART_NAMES[component]
    ge = int_or_none(get("GEImageType"))
    if ge is not None and str(get("Manufacturer", "")).upper().startswith("GE"):
        return _GE_PARTS.get(ge, f"GE{ge}")  # other values: GE's field-map and derived image types
    for value in image_type[2:]:
        if value in _PART_NAMES:
            return _PART_NAMES[value]
    return None
