"""Scan a folder tree for DICOM image series, like a PACS browser does.

Any file name is accepted (no extension needed). Files that are not DICOM, or DICOM without an image
(DICOMDIR, Philips DIRFILE, structured reports, segmentations, presentation states, ...) are skipped
with a reason. Only headers are read here; pixel data is located (file offset) but not loaded.
"""

from __future__ import annotations

import functools
import io
import os
import struct
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.tag import Tag
from pydicom.uid import UID

from monai_ext.io.dicom.headers.diffusion_tags import DIFFUSION_KEYWORDS
from monai_ext.io.dicom.headers.fastget import fast_get as get
from monai_ext.io.dicom.headers.fastget import tag_and_vr
from monai_ext.io.dicom.headers.header import (
    HEADER_KEYWORDS,
    PIXEL_DATA_TAG,
    SeriesIdentity,
    SliceHeader,
    header_from_dataset,
    header_from_fields,
    series_identity,
)
from monai_ext.io.dicom.headers.multiframe import expand_frames, is_multiframe
from monai_ext.io.dicom.headers.rawheader import RawHeader, media_sop_class, parse_raw_header
from monai_ext.io.dicom.mosaic import expand_mosaic, is_mosaic
from monai_ext.io.errors import CorruptDicomError, DicomError, NotAnImageError, UnsupportedImageError

__all__ = [
    "ScanResult",
    "ScannedSeries",
    "SkippedFile",
    "check_encapsulated",
    "read_headers",
    "read_raw_header",
    "scan",
]

_CHUNK = 1 << 16  # first read; enough for the header of nearly every single-frame image
_LONG_HEADER = 1 << 22  # second read for headers past the first chunk
_DEFER = 512  # element values larger than this are located, not read

# Tags the pydicom path reads from every file (series descriptions come from one file: see _identity).
HEADER_TAGS = [
    *HEADER_KEYWORDS,
    *DIFFUSION_KEYWORDS,
    "GridFrameOffsetVector",
    "PerFrameFunctionalGroupsSequence",
    "SharedFunctionalGroupsSequence",
    "PixelData",
    "FloatPixelData",
    "DoubleFloatPixelData",
]

# SOP classes that carry pixel data but are not image series a volume reader should stack.
_NOT_IMAGE_SOP = {
    "1.2.840.10008.1.3.10": "media storage directory (DICOMDIR/DIRFILE)",
    "1.2.840.10008.5.1.4.1.1.66.4": "segmentation object (SEG)",
    "1.2.840.10008.5.1.4.1.1.104.1": "encapsulated PDF",
}
# Vendor-private SOP classes known to hold no image (Philips exports put them beside every series).
_PRIVATE_NOT_IMAGE_SOP = {
    "1.3.46.670589.11.0.0.12.1": "Philips private MR spectrum",
    "1.3.46.670589.11.0.0.12.2": "Philips private MR series data",
    "1.3.46.670589.11.0.0.12.3": "Philips private MR examination data",
    "1.3.46.670589.11.0.0.12.4": "Philips private MR ExamCard",
    "1.3.46.670589.2.5.1.1": "Philips private 3D presentation state",
    "1.3.12.2.1107.5.9.1": "Siemens CSA non-image",
}
_STANDARD_PREFIX = "1.2.840.10008."
_PIXEL_SOP_WORDS = ("Image", "Dose", "Parametric Map")
_NOT_IMAGE_MODALITY = {"SR", "SEG", "PR", "KO", "REG", "RTSTRUCT", "RTPLAN", "RTRECORD", "DOC", "PLAN"}


@dataclass(frozen=True)
class SkippedFile:
    """A file the scan did not use, and why."""

    path: Path
    reason: str
    series_uid: str | None = None


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


_HEADER_TAG_VALUES = [Tag(tag_and_vr(keyword)[0]) for keyword in HEADER_TAGS]  # converted once, not on every file
_IDENTITY_TAGS = [
    Tag(keyword)
    for keyword in (
        "SpecificCharacterSet", "SeriesInstanceUID", "StudyInstanceUID", "PatientID", "PatientName", "StudyDate",
        "StudyDescription", "SeriesDescription", "SeriesNumber", "Modality", "Manufacturer", "ManufacturerModelName",
    )
]  # fmt: skip


def _parse(data: bytes, force: bool) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(io.BytesIO(data), defer_size=_DEFER, specific_tags=_HEADER_TAG_VALUES, force=force)


def _read_start(path: Path) -> bytes:
    """The first bytes of ``path``; raise ``InvalidDicomError`` when it cannot be DICOM."""
    with open(path, "rb") as fh:
        data = fh.read(_CHUNK)
    if data[128:132] != b"DICM" and not _looks_like_raw_dicom(data):
        raise InvalidDicomError("no DICM preamble")
    return data


def read_raw_header(path: Path, data: bytes | None = None) -> tuple[bytes, RawHeader | None]:
    """The first bytes of ``path`` and its fast-path header (``None``: pydicom must parse it).

    Args:
        path: the file.
        data: its first bytes when already read.

    Raises:
        InvalidDicomError: not a DICOM file.
    """
    data = _read_start(path) if data is None else data
    raw = parse_raw_header(data)
    if raw is None and len(data) == _CHUNK:  # long header (e.g. vendor private blocks): read further
        with open(path, "rb") as fh:
            data = fh.read(_LONG_HEADER)
        raw = parse_raw_header(data)
    return data, raw


def _read_dataset(path: Path, data: bytes) -> Dataset:
    """Parse the header of ``path`` (starting with ``data``) with pydicom, pixel data deferred."""
    size = path.stat().st_size
    force = data[128:132] != b"DICM"
    try:
        try:
            ds = _parse(data, force)
            complete = PIXEL_DATA_TAG in ds._dict or size <= len(data)
        except Exception:  # the bytes read may end inside an element: parse the whole file before judging
            if size <= len(data):
                raise
            complete = False
        if not complete:
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


def check_encapsulated(path: Path, offset: int) -> None:
    """Walk the items of encapsulated (compressed) pixel data; a missing end means a truncated file.

    Raises:
        CorruptDicomError: an item runs past the end of the file, or the sequence delimiter is missing.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(offset)
        while True:
            head = fh.read(8)
            if len(head) < 8:
                raise CorruptDicomError("truncated compressed pixel data: no sequence delimiter", [path])
            group, elem, length = struct.unpack("<HHI", head)
            if (group, elem) == (0xFFFE, 0xE0DD):
                return
            if (group, elem) != (0xFFFE, 0xE000) or fh.tell() + length > size:
                raise CorruptDicomError(
                    f"truncated or corrupt compressed pixel data at byte {fh.tell() - 8} of {size}", [path]
                )
            fh.seek(length, io.SEEK_CUR)


@functools.lru_cache(maxsize=256)
def non_image_reason(sop: str) -> str | None:
    """Why a SOP class holds no image (a standard non-image class or a known private one), else ``None``."""
    if sop in _NOT_IMAGE_SOP:
        return _NOT_IMAGE_SOP[sop]
    if sop in _PRIVATE_NOT_IMAGE_SOP:
        return f"{_PRIVATE_NOT_IMAGE_SOP[sop]} ({sop})"
    if sop.startswith(_STANDARD_PREFIX):
        name = UID(sop).name
        if name.endswith("Storage") and not any(word in name for word in _PIXEL_SOP_WORDS):
            return name
    return None


def _refuse_non_image(sop: str, modality: str, has_pixels: bool, has_rows: bool, path: Path) -> None:
    """Raise :class:`NotAnImageError` (or :class:`CorruptDicomError` for a truncated image) as needed.

    A file is called corrupt only when it claims to be an image (a standard image storage class, or no SOP
    class at all but image attributes) and has no pixel data: a private object with Rows but no pixels is a
    vendor's non-image object.
    """
    modality = modality.upper()
    name = UID(sop).name if sop else "unknown SOP class"
    reason = non_image_reason(sop)
    if reason is not None:
        raise NotAnImageError(f"not an image: {reason}", [path])
    if modality in _NOT_IMAGE_MODALITY:
        raise NotAnImageError(f"not an image: modality {modality} ({name})", [path])
    if not has_pixels:
        if "Image Storage" in name or (has_rows and not sop):
            raise CorruptDicomError(
                f"an image object ({name}) without pixel data: the file is truncated or corrupt", [path]
            )
        raise NotAnImageError(f"not an image: no pixel data ({name})", [path])


def read_headers(path: Path) -> list[SliceHeader]:
    """Read one file's image headers (one per frame).

    The fast reader of :mod:`~monai_ext.io.dicom.headers.rawheader` handles ordinary single-frame files; pydicom
    handles everything else (multi-frame, big-endian, files without a preamble, unusual structure).

    Raises:
        InvalidDicomError: not a DICOM file.
        NotAnImageError: DICOM without an image.
        CorruptDicomError: truncated or unparsable.
    """
    data = _read_start(path)
    early = non_image_reason(media_sop_class(data) or "")
    if early is not None:  # classified from the file meta: large non-image objects are never parsed
        raise NotAnImageError(f"not an image: {early}", [path])
    data, raw = read_raw_header(path, data)
    if raw is not None:
        sop = str(raw.get("SOPClassUID", "") or raw.media_sop_class)
        _refuse_non_image(sop, str(raw.get("Modality", "")), raw.has_pixel_data, "Rows" in raw, path)
        header = header_from_fields(raw.get, path, raw.transfer_syntax, raw.pixel_offset, raw.pixel_length)
        _check_truncation([header], path)
        if raw.encapsulated_offset is not None:
            check_encapsulated(path, raw.encapsulated_offset)
        return _unpack_layouts([header])
    ds = _read_dataset(path, data)
    try:
        return _headers_of_dataset(ds, path)
    except (DicomError, OSError):
        raise
    except Exception as err:  # pydicom converts values lazily and raises many types on malformed ones
        raise CorruptDicomError(f"corrupt header value ({type(err).__name__}: {err})", [path]) from err


def _headers_of_dataset(ds: Dataset, path: Path) -> list[SliceHeader]:
    """The image headers of a dataset parsed by pydicom (one per frame)."""
    meta = getattr(ds, "file_meta", None)
    sop = str(get(ds, "SOPClassUID", "") or (meta.get("MediaStorageSOPClassUID", "") if meta else ""))
    has_pixels = any(t in ds._dict for t in (PIXEL_DATA_TAG, 0x7FE00008, 0x7FE00009))
    _refuse_non_image(sop, str(get(ds, "Modality", "")), has_pixels, "Rows" in ds, path)
    syntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if not syntax:
        syntax = "1.2.840.10008.1.2" if ds.is_implicit_VR else "1.2.840.10008.1.2.1"
    headers = expand_frames(ds, path, syntax) if is_multiframe(ds) else [header_from_dataset(ds, path, syntax)]
    _check_truncation(headers, path)
    return _unpack_layouts(headers)


def _unpack_layouts(headers: list[SliceHeader]) -> list[SliceHeader]:
    """Unpack Siemens mosaics into slices; refuse layouts that would otherwise load with wrong geometry.

    Raises:
        UnsupportedImageError: a mosaic that cannot be unpacked, a UIH VFRAME tiled image, a GE ``epi_pepolar``
            series (alternate volumes stored row-flipped with no header change), an image without size.
    """
    first = headers[0]
    if first.rows <= 0 or first.columns <= 0:
        raise CorruptDicomError(
            f"pixel data without a valid image size (Rows {first.rows}, Columns {first.columns})", [first.path]
        )
    if "VFRAME" in first.image_type:
        raise UnsupportedImageError(
            "UIH VFRAME image: several slices stored as tiles of one image with their geometry in UIH private "
            "tags, which this loader does not unpack; export the series as one image per slice",
            [first.path],
            series_uid=first.series_uid,
        )
    if first.pulse_sequence and "epi_pepolar" in first.pulse_sequence.lower():
        raise UnsupportedImageError(
            f"GE {first.pulse_sequence} series: its volumes alternate the phase-encoding polarity and the "
            "reversed ones are stored row-flipped with nothing in the public header to say which; not converted",
            [first.path],
            series_uid=first.series_uid,
        )
    if len(headers) == 1 and is_mosaic(first):
        return expand_mosaic(first)
    return headers


def _identity(path: Path, header: SliceHeader) -> SeriesIdentity:
    """Descriptive series fields, read with pydicom (character sets, person names) from one file.

    A file whose descriptive values cannot be decoded still gives its series UID (from ``header``).
    """
    try:
        with warnings.catch_warnings():  # pydicom warns on malformed descriptive values
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True, specific_tags=_IDENTITY_TAGS)
            return series_identity(ds)
    except Exception:  # pydicom raises many types on malformed values; the listing then shows fewer fields
        return SeriesIdentity(header.series_uid, "", "", "", "", "", "", None, "", header.manufacturer, "")


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
                headers = read_headers(path)
            except InvalidDicomError:
                skipped.append(SkippedFile(path, "not a DICOM file"))
                continue
            except NotAnImageError as err:
                skipped.append(SkippedFile(path, err.problem))
                continue
            except UnsupportedImageError as err:
                skipped.append(SkippedFile(path, f"unsupported: {err.problem}", err.series_uid))
                continue
            except CorruptDicomError as err:
                skipped.append(SkippedFile(path, f"corrupt: {err.problem}"))
                continue
            except OSError as err:
                skipped.append(SkippedFile(path, f"unreadable: {err.strerror or err}"))
                continue
            uid = headers[0].series_uid
            if uid not in by_uid:
                by_uid[uid] = ScannedSeries(identity=_identity(path, headers[0]))
            by_uid[uid].headers.extend(headers)
    return ScanResult(series=list(by_uid.values()), skipped=skipped)
