"""Load a DICOM series into a :class:`~monai_ext.io.volume.Volume` (array, RAS affine, metadata)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from monai_ext.io.dicom.headers.header import SliceHeader
from monai_ext.io.dicom.pixels import output_dtype, read_pixels
from monai_ext.io.dicom.planning.plan import VolumePlan, plan_volume
from monai_ext.io.dicom.planning.resample import resample_along_normal, unshear
from monai_ext.io.dicom.scan import ScannedSeries, ScanResult, scan
from monai_ext.io.errors import CorruptDicomError, MultipleSeriesError, NoSeriesError, UnsupportedImageError
from monai_ext.io.volume import Volume

__all__ = ["load_dicom_series", "load_plan", "select_series"]


def _describe(series: ScannedSeries) -> str:
    ident = series.identity
    return f"{ident.series_uid} ({ident.modality} '{ident.series_description}', {len(series.headers)} images)"


def select_series(result: ScanResult, series_uid: str | None = None) -> ScannedSeries:
    """Pick one series of a scan: the one named, or the only one.

    Raises:
        NoSeriesError: nothing found, or ``series_uid`` is not among the series found.
        MultipleSeriesError: several series and none named.
    """
    if not result.series:
        reasons = "; ".join(sorted({s.reason for s in result.skipped})) or "no files"
        raise NoSeriesError(f"no DICOM image series found ({reasons})", [s.path for s in result.skipped])
    if series_uid is not None:
        for series in result.series:
            if series.identity.series_uid == series_uid:
                return series
        listing = "; ".join(_describe(s) for s in result.series)
        raise NoSeriesError(f"series {series_uid} not found; available: {listing}")
    if len(result.series) > 1:
        listing = "; ".join(_describe(s) for s in result.series)
        raise MultipleSeriesError(
            f"{len(result.series)} series found, choose one with series_uid (--series): {listing}",
            [s.files[0] for s in result.series],
        )
    return result.series[0]


def _shift_pixels(plan: VolumePlan, headers: list[SliceHeader]) -> np.ndarray:
    """In-plane shift (pixels) that moves each sheared slice onto the orthogonal grid: ``(N, 2)``."""
    first = headers[0]
    row, col = np.asarray(first.orientation[:3]), np.asarray(first.orientation[3:])  # type: ignore[index]
    row_spacing, col_spacing = first.pixel_spacing or (1.0, 1.0)
    shear = plan.geometry.shear
    return np.stack([shear @ row / col_spacing, shear @ col / row_spacing], axis=1)


def _read_stack(plan: VolumePlan, headers: list[SliceHeader], dtype: np.dtype, out: np.ndarray | None) -> np.ndarray:
    if out is None:
        out = np.empty((len(headers), headers[0].rows, headers[0].columns), dtype)
    read_pixels(headers, out)
    if plan.unshear_slices:
        out = unshear(out, _shift_pixels(plan, headers))
    if plan.resample_slices:
        out, _ = resample_along_normal(out, plan.geometry.distances, plan.spacing)
    return out


def _volume_meta(series: ScannedSeries, plan: VolumePlan, dtype: np.dtype) -> dict[str, Any]:
    ident, first = series.identity, plan.stacks[0][0]
    headers = plan.headers
    return {
        "series_uid": ident.series_uid,
        "modality": ident.modality,
        "manufacturer": ident.manufacturer,
        "model": ident.model,
        "series_description": ident.series_description,
        "series_number": ident.series_number,
        "n_slices": len(plan.stacks[0]),
        "shape": list(plan.shape),
        "spacing": plan.voxel_size,
        "orientation_lps": list(first.orientation) if first.orientation else None,
        "slice_thickness": first.slice_thickness,
        "rescale_slope": sorted({h.rescale_slope for h in headers}),
        "rescale_intercept": sorted({h.rescale_intercept for h in headers}),
        "transfer_syntax": sorted({h.transfer_syntax for h in headers}),
        "dtype": str(dtype),
        "frame_axis": plan.frame_axis[0] if plan.frame_axis else None,
        "frame_values": plan.frame_axis[1] if plan.frame_axis else None,
        **_diffusion_meta(plan),
        **_time_step(plan),
        "resampled": plan.resample_slices or plan.unshear_slices,
        "problems": list(plan.problems),
        "source_files": [str(p) for p in dict.fromkeys(h.path for h in headers)],
    }


_TEMPORAL_AXES = frozenset({"temporal_position", "acquisition_number", "acquisition_time", "instance_order"})


def _time_step(plan: VolumePlan) -> dict[str, Any]:
    """``time_step_s``: RepetitionTime in seconds when the volume axis is time (fMRI, ASL, dynamics)."""
    if plan.frame_axis is None or not set(plan.frame_axis[0].split("+")) <= _TEMPORAL_AXES:
        return {}
    tr = plan.stacks[0][0].repetition_time
    return {"time_step_s": tr / 1000.0} if tr and tr > 0 else {}


def _diffusion_meta(plan: VolumePlan) -> dict[str, Any]:
    """Per-volume b-values and patient-axis directions (LPS), when the images record them."""
    if not any(h.b_value is not None or h.gradient is not None for h in plan.headers):
        return {}
    b_values = [next((h.b_value for h in stack if h.b_value is not None), 0.0) for stack in plan.stacks]
    gradients = [next((list(h.gradient) for h in stack if h.gradient is not None), None) for stack in plan.stacks]
    return {"b_values": b_values, "gradients_lps": gradients}


def load_plan(series: ScannedSeries, plan: VolumePlan) -> Volume:
    """Read the pixels of a planned volume.

    Args:
        series: the scanned series the plan was made from.
        plan: from :func:`~monai_ext.io.dicom.planning.plan.plan_volume`.

    Returns:
        The :class:`Volume`, array shape ``(I, J, K)`` or ``(I, J, K, T)``.
    """
    dtype = output_dtype(plan.headers)
    if plan.resample_slices or plan.unshear_slices:
        dtype = np.dtype(np.float32)
        stacks = [_read_stack(plan, h, output_dtype(h), None) for h in plan.stacks]
        data = np.stack(stacks) if len(stacks) > 1 else stacks[0][None]
    else:
        first = plan.stacks[0][0]
        data = np.empty((len(plan.stacks), len(plan.stacks[0]), first.rows, first.columns), dtype)
        for t, headers in enumerate(plan.stacks):
            _read_stack(plan, headers, dtype, data[t])
    array = data[0].transpose(2, 1, 0) if len(plan.stacks) == 1 else data.transpose(3, 2, 1, 0)
    return Volume(array=array, affine=plan.affine, meta=_volume_meta(series, plan, dtype))


def load_dicom_series(
    source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | ScanResult,
    *,
    series_uid: str | None = None,
    stack: int | None = None,
    resample: bool = False,
    allow_unreadable: bool = False,
) -> Volume:
    """Load one DICOM series as a volume with a RAS affine and real-world intensities.

    Slices are ordered by ``ImagePositionPatient`` projected on the slice normal; spacing comes from the
    positions. Missing slices, uneven gaps, duplicates and gantry tilt are refused with a typed error that
    names the files, unless ``resample=True``.

    Args:
        source: a folder (searched recursively), files, or a :class:`ScanResult`.
        series_uid: the ``SeriesInstanceUID`` to load when the source holds several series.
        stack: the stack to load when a series holds several that do not form one volume.
        resample: interpolate missing slices and remove gantry tilt instead of refusing.
        allow_unreadable: ignore files that look like DICOM but cannot be parsed, and files of the chosen series
            in a layout that cannot be unpacked (by default both stop the load: they may be slices of it).

    Returns:
        A :class:`Volume` whose array is ``(I, J, K)`` (or ``(I, J, K, T)`` for echoes/phases).

    Raises:
        DicomError: a subclass naming the files and the problem.

    Example:
        >>> vol = load_dicom_series("../shared/data/dicom/ct-head-phantom-philips")  # doctest: +SKIP
        >>> vol.shape, vol.meta["modality"]  # doctest: +SKIP
        ((512, 512, 28), 'CT')
    """
    result = source if isinstance(source, ScanResult) else scan(_as_paths(source))
    if result.unreadable and not allow_unreadable:
        bad = result.unreadable
        raise CorruptDicomError(
            f"{len(bad)} file(s) look like DICOM but cannot be read and may be slices of the series "
            f"({bad[0].reason}); pass allow_unreadable=True to ignore them",
            [s.path for s in bad],
        )
    series = select_series(result, series_uid)
    refused = [s for s in result.skipped if s.series_uid and s.series_uid == series.identity.series_uid]
    if refused and not allow_unreadable:
        raise UnsupportedImageError(
            f"{len(refused)} file(s) of this series cannot be used ({refused[0].reason}); the volume would "
            "silently miss them: pass allow_unreadable=True to load the rest",
            [s.path for s in refused],
            series_uid=series.identity.series_uid,
        )
    plan = plan_volume(series, stack=stack, resample=resample)
    return load_plan(series, plan)


def _as_paths(source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    if isinstance(source, str | os.PathLike):
        return [Path(source)]
    return [Path(p) for p in source]
