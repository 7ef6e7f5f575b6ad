"""Scan a folder tree for DICOM image series, like a PACS browser does.

Any file name is accepted (no extension needed). Files that are not DICOM, or DICOM without an image
(DICOMDIR, Philips DIRFILE, structured reports, segmentations, presentation states, ...) are skipped
with a reason. Only headers are read here; pixel data is located (file offset) but not loaded.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.tag import Tag
from pydicom.uid import UID

from monai_ext.io.dicom.fastget import fast_get as get
from monai_ext.io.dicom.header import (
    PIXEL_DATA_TAG,
    SeriesIdentity,
    SliceHeader,
    header_from_dataset,
    series_identity,
)
from monai_ext.io.dicom.multiframe import expand_frames, is_multiframe
from monai_ext.io.errors import CorruptDicomError, NotAnImageError

__all__ = ["ScanResult", "ScannedSeries", "SkippedFile", "read_headers", "scan"]

_CHUNK = 1 << 16  # first read; enough for the header of nearly every single-frame image
_DEFER = 512  # element values larger than this are located, not read

HEADER_TAGS = [
    "SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID", "PatientID", "PatientName",
    "StudyDate", "StudyDescription", "SeriesDescription", "SeriesNumber", "Modality", "Manufacturer",
    "ManufacturerModelName", "Rows", "Columns", "ImagePositionPatient", "ImageOrientationPatient",
    "PixelSpacing", "SliceThickness", "RescaleSlope", "RescaleIntercept", "BitsAllocated", "BitsStored",
    "PixelRepresentation", "SamplesPerPixel", "PhotometricInterpretation", "InstanceNumber",
    "AcquisitionNumber", "EchoNumbers", "EchoTime", "TemporalPositionIdentifier", "TriggerTime",
    "NumberOfFrames", "GridFrameOffsetVector", "PerFrameFunctionalGroupsSequence",
    "SharedFunctionalGroupsSequence", "PixelData", "FloatPixelData", "DoubleFloatPixelData",
]  # fmt: skip

# SOP classes that carry pixel data but are not image series a volume reader should stack.
_NOT_IMAGE_SOP = {
    "1.2.840.10008.1.3.10": "media storage directory (DICOMDIR/DIRFILE)",
    "1.2.840.10008.5.1.4.1.1.66.4": "segmentation object (SEG)",
    "1.2.840.10008.5.1.4.1.1.104.1": "encapsulated PDF",
}
_NOT_IMAGE_MODALITY = {"SR", "SEG", "PR", "KO", "REG", "RTSTRUCT", "RTPLAN", "RTRECORD", "DOC", "PLAN"}


@dataclass(frozen=True)
class SkippedFile:
    """A file the scan did not use, and why."""

    path: Path
    reason: str


@dataclass
class ScannedSeries:
    """All image headers found for one ``SeriesInstanceUID``."""

    identity: SeriesIdentity
    headers: list[SliceHeader] = field(default_factory=list)

    @property
    def files(self) -> list[Path]:
        """Distinct files of the series, in scan order."""
        return list(dict.fromkeys(h.path for h in self.headers))


@dataclass
class ScanResult:
    """Series found by :func:`scan`, and the files skipped with reasons."""

    series: list[ScannedSeries]
    skipped: list[SkippedFile]

    @property
    def unreadable(self) -> list[SkippedFile]:
        """Files that look like DICOM but could not be parsed (truncated or corrupt)."""
        return [s for s in self.skipped if s.reason.startswith("corrupt")]


def _looks_like_raw_dicom(head: bytes) -> bool:
    """A file without the 128-byte preamble that starts with a group 0002/0008 tag (old ACR-NEMA style)."""
    return len(head) >= 8 and head[:2] in (b"\x02\x00", b"\x08\x00") and head[2:4] < b"\x00\x10"


_HEADER_TAG_VALUES = [Tag(keyword) for keyword in HEADER_TAGS]  # converted once, not on every file


def _parse(data: bytes, force: bool) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(io.BytesIO(data), defer_size=_DEFER, specific_tags=_HEADER_TAG_VALUES, force=force)


def _read_dataset(path: Path) -> Dataset:
    """Parse the header of ``path`` with pixel data deferred; raise typed errors."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        data = fh.read(_CHUNK)
    force = data[128:132] != b"DICM" and _looks_like_raw_dicom(data)
    if data[128:132] != b"DICM" and not force:
        raise InvalidDicomError("no DICM preamble")
    try:
        ds = _parse(data, force)
        if PIXEL_DATA_TAG not in ds._dict and size > len(data):
            with open(path, "rb") as fh:
                data = fh.read()
            ds = _parse(data, force)
    except InvalidDicomError:
        raise
    except Exception as err:  # pydicom raises many types on malformed input
        raise CorruptDicomError(f"corrupt or truncated header ({type(err).__name__}: {err})", [path]) from err
    return ds


def _check_truncation(headers: list[SliceHeader], path: Path) -> None:
    size = path.stat().st_size
    for h in headers:
        if h.pixel_offset is not None and h.pixel_length is not None and h.pixel_offset + h.pixel_length > size:
            raise CorruptDicomError(
                f"truncated pixel data: needs bytes up to {h.pixel_offset + h.pixel_length}, file has {size}",
                [path],
            )


def _refuse_non_image(ds: Dataset, path: Path) -> None:
    meta = getattr(ds, "file_meta", None)
    sop = str(get(ds, "SOPClassUID", "") or (meta.get("MediaStorageSOPClassUID", "") if meta else ""))
    modality = str(get(ds, "Modality", "")).upper()
    has_pixels = any(t in ds._dict for t in (PIXEL_DATA_TAG, 0x7FE00008, 0x7FE00009))
    name = UID(sop).name if sop else "unknown SOP class"
    if sop in _NOT_IMAGE_SOP:
        raise NotAnImageError(f"not an image: {_NOT_IMAGE_SOP[sop]}", [path])
    if modality in _NOT_IMAGE_MODALITY:
        raise NotAnImageError(f"not an image: modality {modality} ({name})", [path])
    if not has_pixels:
        if "Image Storage" in name or "Rows" in ds:
            raise CorruptDicomError(
                f"an image object ({name}) without pixel data: the file is truncated or corrupt", [path]
            )
        raise NotAnImageError(f"no pixel data ({name})", [path])


def read_headers(path: Path) -> tuple[Dataset, list[SliceHeader]]:
    """Read one file's image headers (one per frame), and its parsed header dataset.

    Raises:
        InvalidDicomError: not a DICOM file.
        NotAnImageError: DICOM without an image.
        CorruptDicomError: truncated or unparsable.
    """
    ds = _read_dataset(path)
    _refuse_non_image(ds, path)
    meta = getattr(ds, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if not syntax:
        syntax = "1.2.840.10008.1.2" if ds.is_implicit_VR else "1.2.840.10008.1.2.1"
    headers = expand_frames(ds, path, syntax) if is_multiframe(ds) else [header_from_dataset(ds, path, syntax)]
    _check_truncation(headers, path)
    return ds, headers


def _iter_files(root: Path) -> Iterable[Path]:
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(dirpath) / name


def scan(paths: Path | str | Iterable[Path | str]) -> ScanResult:
    """Scan files and folder trees for DICOM image series.

    Args:
        paths: a folder (walked recursively), a file, or several of them.

    Returns:
        The series found (grouped by ``SeriesInstanceUID``, in order of first appearance) and the files
        skipped, each with a reason.

    Example:
        >>> result = scan("/nonexistent-folder")
        >>> result.series, result.skipped
        ([], [])
    """
    roots = [Path(paths)] if isinstance(paths, str | os.PathLike) else [Path(p) for p in paths]
    by_uid: dict[str, ScannedSeries] = {}
    skipped: list[SkippedFile] = []
    for root in roots:
        for path in _iter_files(root):
            try:
                ds, headers = read_headers(path)
            except InvalidDicomError:
                skipped.append(SkippedFile(path, "not a DICOM file"))
                continue
            except NotAnImageError as err:
                skipped.append(SkippedFile(path, err.problem))
                continue
            except CorruptDicomError as err:
                skipped.append(SkippedFile(path, f"corrupt: {err.problem}"))
                continue
            except OSError as err:
                skipped.append(SkippedFile(path, f"unreadable: {err.strerror or err}"))
                continue
            uid = headers[0].series_uid
            if uid not in by_uid:
                with warnings.catch_warnings():  # pydicom warns on malformed descriptive values
                    warnings.simplefilter("ignore")
                    by_uid[uid] = ScannedSeries(identity=series_identity(ds))
            by_uid[uid].headers.extend(headers)
    return ScanResult(series=list(by_uid.values()), skipped=skipped)
