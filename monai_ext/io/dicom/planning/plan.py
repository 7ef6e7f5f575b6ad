"""Plan a volume from a scanned series: choose stacks, order slices, check geometry, build the affine.

Planning reads no pixel data, so ``monai-ext dicom ls`` can report every problem of every series quickly;
loading executes the plan (:mod:`monai_ext.io.dicom.load`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from monai_ext.io.dicom.headers.header import SliceHeader
from monai_ext.io.dicom.planning.geometry import LPS_TO_RAS, StackGeometry, analyse_positions, lps_affine, slice_normal
from monai_ext.io.dicom.planning.stack import Stack, is_screenshot_like, split_stacks
from monai_ext.io.dicom.scan import ScannedSeries
from monai_ext.io.errors import (
    CorruptDicomError,
    GantryTiltError,
    InconsistentSeriesError,
    MissingGeometryError,
    MissingSliceError,
    MultipleStacksError,
    NonUniformSpacingError,
)

__all__ = ["VolumePlan", "plan_volume"]

_DEFAULT_ORIENTATION = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


@dataclass
class VolumePlan:
    """Everything needed to read a volume, decided from headers alone.

    Attributes:
        stacks: one list of headers per 4th-dimension index (one list for a 3D volume), each sorted along
            the slice normal.
        geometry: the analysis of the first stack.
        affine: ``(4, 4)`` voxel-to-RAS affine of the output grid.
        shape: output shape ``(I, J, K)`` or ``(I, J, K, T)``.
        spacing: slice spacing of the output grid, mm.
        resample_slices: interpolate along the normal onto the regular grid.
        unshear_slices: shift slices in-plane to remove gantry tilt.
        frame_axis: the field that indexes the 4th dimension and its values, for a 4D volume.
        problems: notes about what was found and tolerated.
    """

    stacks: list[list[SliceHeader]]
    geometry: StackGeometry
    affine: np.ndarray
    shape: tuple[int, ...]
    spacing: float
    resample_slices: bool = False
    unshear_slices: bool = False
    frame_axis: tuple[str, list[Any]] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def voxel_size(self) -> list[float]:
        """Voxel size of the output grid in mm along ``I, J, K`` (column norms of the affine)."""
        return [float(v) for v in np.linalg.norm(self.affine[:3, :3], axis=0)]

    @property
    def headers(self) -> list[SliceHeader]:
        """All headers of the plan."""
        return [h for stack in self.stacks for h in stack]


def _stack_files(stacks: list[Stack]) -> list[Path]:
    """Files of every stack but the largest first: the odd ones a user should look at."""
    largest = max(range(len(stacks)), key=lambda i: len(stacks[i].headers))
    odd = [h.path for i, s in enumerate(stacks) if i != largest for h in s.headers]
    return list(dict.fromkeys(odd + [h.path for h in stacks[largest].headers]))


def _screenshot_like(stack: Stack) -> bool:
    """Images that are pictures of a screen (an exam summary, a saved screen), not slices of a volume."""
    return all(is_screenshot_like(h) for h in stack.headers)


def _set_aside_screenshots(stacks: list[Stack]) -> tuple[list[Stack], str | None]:
    """Drop screenshot-like groups when the rest forms one volume, with a note naming what was dropped."""
    kept = [s for s in stacks if not _screenshot_like(s)]
    if not kept or len(kept) == len(stacks):
        return stacks, None
    if len(kept) > 1 and not (len({s.group for s in kept}) == 1 and all(s.dimension is not None for s in kept)):
        return stacks, None
    dropped = [h for s in stacks if s not in kept for h in s.headers]
    note = (
        f"ignored {len(dropped)} screenshot-like image(s) of the series (secondary/screen-save images or "
        f"without geometry, first {dropped[0].path.name}) beside the image stack"
    )
    return kept, note


def _choose(stacks: list[Stack], index: int | None) -> list[Stack]:
    if index is None and len(stacks) > 1:
        kept, note = _set_aside_screenshots(stacks)
        if note is not None:
            for s in kept:
                s.problems.append(note)
            return _choose(kept, None)
    listing = "; ".join(f"[{i}] {s.label} (first file {s.headers[0].path.name})" for i, s in enumerate(stacks))
    files = _stack_files(stacks)
    if index is not None:
        if not 0 <= index < len(stacks):
            raise MultipleStacksError(f"stack {index} does not exist; the series has: {listing}", files)
        return [stacks[index]]
    if len(stacks) == 1:
        return stacks
    same_group = len({s.group for s in stacks}) == 1
    if same_group and all(s.dimension is not None for s in stacks):
        return stacks
    raise MultipleStacksError(
        f"the series holds {len(stacks)} stacks that do not form one volume: {listing}; choose one (stack=N)",
        files,
    )


def _orientation(headers: list[SliceHeader], problems: list[str]) -> np.ndarray:
    first = headers[0]
    if first.orientation is None:
        problems.append("no ImageOrientationPatient: axial identity orientation assumed")
        return np.array(_DEFAULT_ORIENTATION)
    try:
        slice_normal(np.asarray(first.orientation))
    except ValueError as err:
        raise MissingGeometryError(str(err), [first.path]) from err
    return np.asarray(first.orientation, float)


def _pixel_spacing(headers: list[SliceHeader], problems: list[str]) -> tuple[float, float]:
    spacings = {h.pixel_spacing for h in headers}
    if None in spacings:
        problems.append("no PixelSpacing: 1 mm assumed")
        return (1.0, 1.0)
    if len(spacings) > 1:
        values = sorted(spacings)  # type: ignore[type-var]
        if np.ptp(np.array(values), axis=0).max() > 1e-4:
            raise InconsistentSeriesError(f"PixelSpacing differs between slices: {values[:4]}", [headers[0].path])
    spacing = headers[0].pixel_spacing
    assert spacing is not None
    if min(spacing) <= 0:
        problems.append(f"PixelSpacing {list(spacing)} is not positive: 1 mm assumed")
        return (1.0, 1.0)
    return spacing


def _check_pixel_format(headers: list[SliceHeader]) -> None:
    bad = [
        h for h in headers if h.bits_allocated not in (1, 8, 16, 32, 64) or not 0 < h.bits_stored <= h.bits_allocated
    ]
    if bad:
        h = bad[0]
        raise CorruptDicomError(
            f"BitsStored {h.bits_stored} / BitsAllocated {h.bits_allocated} is not a valid pixel format",
            [b.path for b in bad],
        )
    formats = {(h.bits_allocated, h.samples_per_pixel, h.photometric) for h in headers}
    if len(formats) > 1:
        paths = [
            next(h.path for h in headers if (h.bits_allocated, h.samples_per_pixel, h.photometric) == f)
            for f in formats
        ]
        raise InconsistentSeriesError(f"pixel formats differ within the stack: {sorted(formats)}", paths)


def _spacing_error(headers: list[SliceHeader], geo: StackGeometry) -> NonUniformSpacingError:
    ordered = [headers[i] for i in geo.order]
    if geo.missing:
        parts, files = [], []
        for before, count in geo.missing:
            a, b = ordered[before], ordered[before + 1]
            parts.append(
                f"{count} slice(s) missing between instance {a.instance_number} and {b.instance_number} "
                f"(gap {geo.gaps[before]:.3f} mm at {geo.distances[before]:.2f} mm along the normal)"
            )
            files += [a.path, b.path]
        return MissingSliceError(
            f"{'; '.join(parts)}; the regular spacing is {geo.spacing:.3f} mm. "
            "Pass resample=True (--resample) to interpolate the missing slices",
            files,
        )
    worst = int(np.argmax(np.abs(geo.gaps - (geo.spacing or 0))))
    return NonUniformSpacingError(
        f"slice gaps vary from {geo.gaps.min():.3f} to {geo.gaps.max():.3f} mm (regular {geo.spacing:.3f} mm). "
        "Pass resample=True (--resample) to resample onto a regular grid",
        [ordered[worst].path, ordered[worst + 1].path],
    )


def _check_stack(headers: list[SliceHeader], geo: StackGeometry, resample: bool, problems: list[str]) -> None:
    ordered = [headers[i] for i in geo.order]
    if geo.sheared:
        if not resample:
            raise GantryTiltError(
                f"slices are sheared by {geo.tilt_degrees:.2f} degrees (gantry tilt or a non-orthogonal stack); "
                "pass resample=True (--resample) to shift the slices onto an orthogonal grid",
                [ordered[0].path, ordered[-1].path],
            )
        problems.append(f"gantry tilt of {geo.tilt_degrees:.2f} degrees removed by in-plane resampling")
    if not geo.uniform and len(headers) > 1:
        if not resample:
            raise _spacing_error(headers, geo)
        missing = sum(c for _, c in geo.missing)
        detail = f"{missing} missing slice(s) interpolated" if missing else "uneven slice gaps"
        problems.append(f"{detail}: resampled to {geo.spacing:.3f} mm along the normal")


def _same_positions(geos: list[StackGeometry]) -> bool:
    ref = geos[0].distances
    return all(len(g.distances) == len(ref) and np.allclose(g.distances, ref, atol=1e-2) for g in geos[1:])


def _thickness_note(headers: list[SliceHeader], spacing: float, problems: list[str]) -> None:
    thickness = headers[0].slice_thickness
    if thickness and len(headers) > 1 and abs(thickness - spacing) > 0.01 * spacing:
        kind = "gaps between slices" if spacing > thickness else "overlapping slices"
        problems.append(f"SliceThickness {thickness:g} mm differs from the slice spacing {spacing:.4g} mm ({kind})")


def plan_volume(series: ScannedSeries, *, stack: int | None = None, resample: bool = False) -> VolumePlan:
    """Decide how to build the volume of ``series`` without reading pixels.

    Args:
        series: a scanned series.
        stack: index of the stack to load when the series holds several that do not form one volume.
        resample: interpolate missing slices / uneven gaps and remove gantry tilt instead of refusing.

    Returns:
        The :class:`VolumePlan`.

    Raises:
        DicomError: a subclass naming the files and the problem (see :mod:`monai_ext.io.errors`).
    """
    chosen = _choose(split_stacks(series.headers), stack)
    problems: list[str] = [p for s in chosen for p in s.problems]
    headers = chosen[0].headers
    _check_pixel_format([h for s in chosen for h in s.headers])
    orientation = _orientation(headers, problems)
    pixel_spacing = _pixel_spacing(headers, problems)
    geos = []
    for s in chosen:
        positions = np.array([h.position or (0.0, 0.0, 0.0) for h in s.headers], float)
        geos.append(analyse_positions(positions, orientation, pixel_spacing))
    geo = geos[0]
    if len(chosen) > 1 and not _same_positions(geos):
        raise MultipleStacksError(
            f"the {chosen[0].dimension[0]} stacks have different slice positions: "  # type: ignore[index]
            + "; ".join(s.label for s in chosen),
            series.files,
        )
    _check_stack(headers, geo, resample, problems)
    normal = slice_normal(orientation)
    n = len(headers)
    if n == 1:
        spacing = headers[0].slice_thickness or 1.0
    elif geo.uniform:
        spacing = float((geo.distances[-1] - geo.distances[0]) / (n - 1))  # mean gap: robust to DS rounding
    else:
        spacing = float(geo.spacing or 0.0)
    _thickness_note(headers, spacing, problems)
    resample_slices = not geo.uniform and n > 1
    n_out = round((geo.distances[-1] - geo.distances[0]) / spacing) + 1 if resample_slices else n
    origin = np.asarray(headers[int(geo.order[0])].position or (0.0, 0.0, 0.0), float)
    step = normal * spacing
    affine = LPS_TO_RAS @ lps_affine(orientation, pixel_spacing, origin, step)
    h0 = headers[0]
    shape: tuple[int, ...] = (h0.columns, h0.rows, n_out)
    frame_axis = None
    if len(chosen) > 1:
        shape = (*shape, len(chosen))
        frame_axis = (chosen[0].dimension[0], [s.dimension[1] for s in chosen])  # type: ignore[index]
    return VolumePlan(
        stacks=[[s.headers[i] for i in g.order] for s, g in zip(chosen, geos, strict=True)],
        geometry=geo,
        affine=affine,
        shape=shape,
        spacing=spacing,
        resample_slices=resample_slices,
        unshear_slices=geo.sheared,
        frame_axis=frame_axis,
        problems=problems,
    )
