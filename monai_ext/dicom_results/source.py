"""The source series of a result: its headers in the volume's slice order, and its voxel grid.

DICOM results (SEG, parametric maps, SR) reference the images they were computed from, frame by frame.
Our loader puts slice ``k`` of the sorted stack at volume index ``K = k`` with ``I`` along the DICOM rows
and ``J`` along the columns, so a map ``(I, J, K)`` on the loader's grid becomes DICOM frames
``(K, J, I)`` = ``(frames, rows, columns)`` matching ``datasets[k]``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from monai_ext.dicom_results.errors import DicomResultError, GridMismatchError
from monai_ext.io.dicom.load import select_series
from monai_ext.io.dicom.planning.plan import plan_volume
from monai_ext.io.dicom.scan import scan

__all__ = ["SourceSeries", "read_source_series"]

_TOLERANCE_MM = 0.01


@dataclass(frozen=True, kw_only=True)
class SourceSeries:
    """Headers of the source images and the grid of the volume loaded from them.

    Attributes:
        datasets: one header (no pixel data) per slice, in volume ``K`` order.
        affine: ``(4, 4)`` voxel-to-RAS matrix of the loaded volume.
        shape: ``(I, J, K)``.
        warnings: what was worked around (e.g. one FrameOfReferenceUID per slice).
    """

    datasets: list[Dataset]
    affine: np.ndarray
    shape: tuple[int, int, int]
    warnings: list[str] = field(default_factory=list)

    @property
    def series_uid(self) -> str:
        return str(self.datasets[0].SeriesInstanceUID)

    @property
    def voxel_volume_mm3(self) -> float:
        return float(abs(np.linalg.det(self.affine[:3, :3])))

    def to_frames(self, array: np.ndarray) -> np.ndarray:
        """``(I, J, K)`` or ``(I, J, K, C)`` on the source grid -> ``(K, J, I)`` / ``(K, J, I, C)`` DICOM frames."""
        axes = (2, 1, 0, *range(3, array.ndim))
        return np.ascontiguousarray(np.transpose(array, axes))

    def check_grid(self, array: np.ndarray, affine: np.ndarray, name: str) -> None:
        """Refuse a map that is not on this grid (shape, and corners within 0.01 mm).

        Raises:
            GridMismatchError: naming the map and the difference.
        """
        if tuple(array.shape[:3]) != self.shape:
            raise GridMismatchError(f"{name}: shape {tuple(array.shape[:3])} is not the source grid {self.shape}")
        corners = np.array(
            [
                [i, j, k, 1]
                for i in (0, self.shape[0] - 1)
                for j in (0, self.shape[1] - 1)
                for k in (0, self.shape[2] - 1)
            ],
            dtype=np.float64,
        ).T
        gap = float(np.abs((np.asarray(affine) - self.affine) @ corners).max())
        if gap > _TOLERANCE_MM:
            raise GridMismatchError(f"{name}: its affine is {gap:.3g} mm away from the source series' grid")


def read_source_series(
    source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *, series_uid: str | None = None
) -> SourceSeries:
    """Read the headers of the series a result was computed from (a folder or its files).

    Raises:
        DicomResultError: the series was resampled or unsheared by the loader, is 4D, or is one
            multi-frame file (results reference single-frame source images here).
        DicomError: the loader's errors for the folder.
    """
    paths = [Path(source)] if isinstance(source, str | os.PathLike) else [Path(p) for p in source]
    series = select_series(scan(paths), series_uid)
    plan = plan_volume(series)
    where = [h.path for h in plan.headers[:1]]
    if len(plan.stacks) != 1 or len(plan.shape) != 3:
        raise DicomResultError("DICOM results need a 3D source series, this one is 4D", where)
    if plan.resample_slices or plan.unshear_slices:
        raise DicomResultError("the loader resampled this series, so its grid has no source frames", where)
    headers = plan.stacks[0]
    if any(h.frame is not None for h in headers):
        raise DicomResultError("multi-frame source images are not supported for DICOM results yet", where)
    datasets: list[Dataset] = [pydicom.dcmread(h.path, stop_before_pixels=True) for h in headers]
    shape = (int(plan.shape[0]), int(plan.shape[1]), int(plan.shape[2]))
    warnings = _one_frame_of_reference(datasets)
    return SourceSeries(
        datasets=datasets, affine=np.asarray(plan.affine, dtype=np.float64), shape=shape, warnings=warnings
    )


def _one_frame_of_reference(datasets: list[Dataset]) -> list[str]:
    """Give the in-memory headers the first slice's FrameOfReferenceUID when the slices disagree.

    Some de-identification tools (TCIA's LIDC-IDRI among them) replace the UID slice by slice. The loader
    has already checked that the slices form one regular volume, so they share a frame of reference in
    fact; derived objects need one UID. The files are not touched.
    """
    uids = list(dict.fromkeys(str(ds.get("FrameOfReferenceUID", "")) for ds in datasets))
    if len(uids) <= 1:
        return []
    for ds in datasets:
        ds.FrameOfReferenceUID = uids[0]
    return [
        f"the source slices carry {len(uids)} different FrameOfReferenceUIDs (re-written slice by slice by "
        f"de-identification?); the results use the first slice's, {uids[0]}"
    ]
