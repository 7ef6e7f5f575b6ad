"""Typed errors of DICOM result writing."""

from __future__ import annotations

from monai_ext.io.errors import DicomError

__all__ = ["DicomResultError", "GridMismatchError"]


class DicomResultError(DicomError):
    """A result cannot be written as DICOM (unsuitable source series, bad map, missing file)."""


class GridMismatchError(DicomResultError):
    """A map is not on the source series' voxel grid, so it cannot reference the source frames."""
