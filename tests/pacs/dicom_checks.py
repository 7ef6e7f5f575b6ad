"""Independent checks of written DICOM results against their source series (plain pydicom, no library code)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from tests.pacs.conftest import dciodvfy, series_files


def source_slices(folder: Path) -> list[Dataset]:
    """The source headers sorted along the slice normal (the order of the loader's K axis)."""
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in series_files(folder)]
    orientation = np.asarray(headers[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    return sorted(headers, key=lambda ds: float(np.dot(normal, np.asarray(ds.ImagePositionPatient, dtype=float))))


def frame_sources(ds: Dataset) -> list[str]:
    """The source SOPInstanceUID of each frame of a multi-frame derived image."""
    return [
        str(item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID)
        for item in ds.PerFrameFunctionalGroupsSequence
    ]


def assert_on_source_grid(ds: Dataset, slices: list[Dataset]) -> None:
    """Every frame sits where its source image is; pixel spacing, orientation and size are the source's."""
    by_uid = {str(s.SOPInstanceUID): s for s in slices}
    assert (ds.Rows, ds.Columns) == (slices[0].Rows, slices[0].Columns)
    assert str(ds.ReferencedSeriesSequence[0].SeriesInstanceUID) == str(slices[0].SeriesInstanceUID)
    shared = ds.SharedFunctionalGroupsSequence[0]
    np.testing.assert_allclose(
        [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing],
        [float(v) for v in slices[0].PixelSpacing],
        atol=1e-6,
    )
    np.testing.assert_allclose(
        [float(v) for v in shared.PlaneOrientationSequence[0].ImageOrientationPatient],
        [float(v) for v in slices[0].ImageOrientationPatient],
        atol=1e-6,
    )
    for item, uid in zip(ds.PerFrameFunctionalGroupsSequence, frame_sources(ds), strict=True):
        position = [float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient]
        np.testing.assert_allclose(position, [float(v) for v in by_uid[uid].ImagePositionPatient], atol=1e-3)


def seg_masks(ds: Dataset, slices: list[Dataset]) -> dict[int, np.ndarray]:
    """Segment number -> ``(K, rows, columns)`` 0/1 mask in source slice order, rebuilt from the SEG frames."""
    index = {str(s.SOPInstanceUID): k for k, s in enumerate(slices)}
    pixels = ds.pixel_array.reshape(-1, ds.Rows, ds.Columns)
    masks: dict[int, np.ndarray] = {
        int(seg.SegmentNumber): np.zeros((len(slices), ds.Rows, ds.Columns), np.uint8) for seg in ds.SegmentSequence
    }
    shared = ds.SharedFunctionalGroupsSequence[0]
    for frame, (item, uid) in enumerate(zip(ds.PerFrameFunctionalGroupsSequence, frame_sources(ds), strict=True)):
        identification = item.get("SegmentIdentificationSequence") or shared.SegmentIdentificationSequence
        number = int(identification[0].ReferencedSegmentNumber)
        masks[number][index[uid]] = pixels[frame]
    return masks


def pmap_values(ds: Dataset, slices: list[Dataset]) -> np.ndarray:
    """``(K, rows, columns)`` real-world values of a parametric map in source slice order."""
    index = {str(s.SOPInstanceUID): k for k, s in enumerate(slices)}
    pixels = ds.pixel_array.reshape(-1, ds.Rows, ds.Columns).astype(np.float64)
    mapping = ds.SharedFunctionalGroupsSequence[0].RealWorldValueMappingSequence[0]
    pixels = pixels * float(mapping.RealWorldValueSlope) + float(mapping.RealWorldValueIntercept)
    values = np.full((len(slices), ds.Rows, ds.Columns), np.nan)
    for frame, uid in enumerate(frame_sources(ds)):
        values[index[uid]] = pixels[frame]
    return values


def sr_numbers(ds: Dataset) -> dict[str, float]:
    """Concept name meaning -> numeric value of every NUM item in the SR tree."""
    found: dict[str, float] = {}

    def walk(items: list[Dataset]) -> None:
        for item in items:
            if item.ValueType == "NUM":
                found[str(item.ConceptNameCodeSequence[0].CodeMeaning)] = float(
                    item.MeasuredValueSequence[0].NumericValue
                )
            walk(list(item.get("ContentSequence", [])))

    walk(list(ds.ContentSequence))
    return found


def validate(path: Path, report: list[str]) -> None:
    """dciodvfy: no errors allowed; warnings are collected into ``report``."""
    errors, warnings = dciodvfy(path)
    assert errors == [], f"dciodvfy errors in {path.name}: {errors}"
    report += [f"{path.name}: {w}" for w in warnings]
