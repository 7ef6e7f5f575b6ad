"""Typed errors of the I/O layer.

Every error names the files involved and says what is wrong, so that a user looking at a folder that came
straight off a scanner knows which file to look at. All derive from :class:`DicomError` (itself a
``ValueError``), so callers can catch one type.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = [
    "CorruptDicomError",
    "DicomError",
    "DuplicateSliceError",
    "GantryTiltError",
    "InconsistentSeriesError",
    "MissingDecoderError",
    "MissingGeometryError",
    "MissingSliceError",
    "MultipleSeriesError",
    "MultipleStacksError",
    "NoSeriesError",
    "NonUniformSpacingError",
    "NotAnImageError",
    "UnsupportedImageError",
]

_MAX_LISTED = 6


def _format_files(files: Sequence[Path]) -> str:
    names = [str(f) for f in files[:_MAX_LISTED]]
    more = len(files) - len(names)
    return ", ".join(names) + (f" (+{more} more)" if more > 0 else "")


class DicomError(ValueError):
    """Base class: a problem with DICOM input, naming the files concerned.

    Args:
        message: what is wrong, in plain words.
        files: the files concerned (shown in the message, kept in ``self.files``).
    """

    def __init__(self, message: str, files: Iterable[Path | str] = ()) -> None:
        self.files: list[Path] = [Path(f) for f in files]
        self.problem = message
        text = message if not self.files else f"{message} [files: {_format_files(self.files)}]"
        super().__init__(text)


class CorruptDicomError(DicomError):
    """A file is truncated or its header or pixel data cannot be parsed."""


class NotAnImageError(DicomError):
    """A file is DICOM but holds no image (DICOMDIR, SR, SEG, RT plan, ...)."""


class MissingDecoderError(DicomError):
    """Pixel data uses a compressed transfer syntax for which no decoder is installed."""


class NoSeriesError(DicomError):
    """No image series was found, or the requested series UID is not present."""


class MultipleSeriesError(DicomError):
    """Several series were found and none was chosen."""


class MultipleStacksError(DicomError):
    """A series holds several stacks (orientations, echoes, ...) that cannot form one volume."""


class InconsistentSeriesError(DicomError):
    """Slices of one stack disagree on size, pixel format or spacing."""


class MissingGeometryError(DicomError):
    """Position/orientation tags needed to build the volume geometry are missing."""


class DuplicateSliceError(DicomError):
    """Two different images sit at the same position of one stack."""


class NonUniformSpacingError(DicomError):
    """Slice positions are not evenly spaced (opt in to resampling to load anyway)."""


class MissingSliceError(NonUniformSpacingError):
    """A gap between slices is a multiple of the regular spacing: slices are missing."""


class GantryTiltError(DicomError):
    """Slices are sheared (gantry tilt or a non-orthogonal stack); opt in to resampling."""


class UnsupportedImageError(DicomError):
    """An image in a layout the loader does not unpack (tiled mosaics it cannot read, UIH VFRAME, ...).

    Such files are refused, never returned with the wrong geometry.

    Args:
        message: what the image is and why it is refused.
        files: the files concerned.
        series_uid: the SeriesInstanceUID of the refused image, when known (a series missing some of its
            files must not load silently without them).
    """

    def __init__(self, message: str, files: Iterable[Path | str] = (), *, series_uid: str | None = None) -> None:
        super().__init__(message, files)
        self.series_uid = series_uid
