"""A label-map DICOM series on a real scanner series' grid: what the adrenal bundles take as input.

Every slice keeps its source header (geometry, frame of reference, patient and study), gets new series and
instance UIDs, and stores a 0/1 ellipsoid ``gland`` mask (uint16, slope 1, intercept 0) at the volume centre,
as a labelmap exported from a segmentation editor would be.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pydicom.uid
from pydicom.dataset import Dataset

RADII_MM = (12.0, 8.0, 16.0)  # about the size of an adrenal gland


def _sorted_files(folder: Path) -> list[Path]:
    """The series' files sorted along the slice normal."""
    files = sorted(folder.glob("*.dcm"))
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in files]
    orientation = np.asarray(headers[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    order = np.argsort([float(np.dot(normal, np.asarray(h.ImagePositionPatient, dtype=float))) for h in headers])
    return [files[i] for i in order]


def _pixel_positions(ds: Dataset) -> np.ndarray:
    """Patient coordinates of every pixel of a slice, shape (rows, columns, 3)."""
    orientation = np.asarray(ds.ImageOrientationPatient, dtype=float)
    row_step, column_step = (float(v) for v in ds.PixelSpacing)
    rows, columns = np.meshgrid(np.arange(int(ds.Rows)), np.arange(int(ds.Columns)), indexing="ij")
    origin = np.asarray(ds.ImagePositionPatient, dtype=float)
    return origin + columns[..., None] * column_step * orientation[:3] + rows[..., None] * row_step * orientation[3:]


def write_label_series(folder: Path, out: Path) -> list[Path]:
    """Write the label-map series derived from the series in ``folder`` into ``out``; returns its files."""
    sources = _sorted_files(folder)
    slices = [pydicom.dcmread(p, stop_before_pixels=True) for p in sources]
    positions = [_pixel_positions(ds) for ds in slices]
    centre = (positions[0][0, 0] + positions[-1][-1, -1]) / 2
    out.mkdir(parents=True, exist_ok=True)
    series_uid, files = pydicom.uid.generate_uid(), []
    for index, (source, points) in enumerate(zip(sources, positions, strict=True)):
        ds = pydicom.dcmread(source)
        inside = (((points - centre) / np.asarray(RADII_MM)) ** 2).sum(axis=-1) <= 1.0
        ds.SeriesInstanceUID, ds.SeriesNumber = series_uid, 9001
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        ds.SeriesDescription, ds.ImageType = "adrenal gland label map", ["DERIVED", "SECONDARY"]
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.RescaleSlope, ds.RescaleIntercept = 1, 0
        for keyword in ("WindowCenter", "WindowWidth", "SmallestImagePixelValue", "LargestImagePixelValue"):
            if keyword in ds:
                delattr(ds, keyword)
        ds.PixelData = inside.astype(np.uint16).tobytes()
        files.append(out / f"{index:04d}.dcm")
        ds.save_as(files[-1], enforce_file_format=True)
    return files
