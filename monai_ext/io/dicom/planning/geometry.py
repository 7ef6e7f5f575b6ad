"""Pure geometry of a slice stack: normals, slice order, spacing checks, shear and the affine.

All inputs are DICOM patient coordinates (LPS, mm). Nothing here reads files, so every function can be
property-tested on synthetic headers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "LPS_TO_RAS",
    "StackGeometry",
    "analyse_positions",
    "lps_affine",
    "slice_normal",
]

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])

ORTHOGONALITY_TOL = 1e-3  # |row . col| and | |dir| - 1 | above this: the orientation is invalid
SPACING_REL_TOL = 0.01  # relative deviation from the median slice gap that counts as non-uniform
SPACING_ABS_TOL = 0.01  # mm; DS rounding in real headers stays far below this
DUPLICATE_TOL = 1e-3  # mm; two slices closer than this along the normal share a position
SHEAR_PIXEL_FRACTION = 0.1  # in-plane drift above this fraction of a pixel counts as shear


def slice_normal(orientation: np.ndarray) -> np.ndarray:
    """Unit normal of a slice from ``ImageOrientationPatient``.

    Args:
        orientation: ``(6,)`` row direction cosines then column direction cosines (LPS).

    Returns:
        ``(3,)`` unit vector ``row x col``: the direction in which slices advance in a right-handed stack.

    Raises:
        ValueError: the direction cosines are not unit length or not orthogonal.
    """
    row, col = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
    shown = [round(float(v), 6) for v in orientation]
    if abs(np.linalg.norm(row) - 1) > ORTHOGONALITY_TOL or abs(np.linalg.norm(col) - 1) > ORTHOGONALITY_TOL:
        raise ValueError(f"ImageOrientationPatient {shown} has non-unit direction cosines")
    if abs(float(row @ col)) > ORTHOGONALITY_TOL:
        raise ValueError(f"ImageOrientationPatient {shown} has non-orthogonal rows and columns")
    normal = np.cross(row, col)
    return normal / np.linalg.norm(normal)


@dataclass(frozen=True)
class StackGeometry:
    """What :func:`analyse_positions` found about a stack.

    Attributes:
        order: indices that sort the slices along the normal (ascending).
        distances: ``(N,)`` sorted slice positions projected on the normal, mm.
        gaps: ``(N-1,)`` differences of ``distances``.
        spacing: the regular slice spacing (median gap), mm; ``None`` for a single slice.
        uniform: all gaps equal ``spacing`` within tolerance.
        duplicates: pairs of sorted indices that share a position.
        missing: for each irregular gap, ``(sorted index before the gap, number of missing slices)`` when the
            gap is a whole multiple of ``spacing``.
        shear: ``(N, 3)`` in-plane offset of each sorted slice from the line through the first slice along
            the normal, mm; all zeros for an orthogonal stack.
        sheared: the largest in-plane offset exceeds ``SHEAR_PIXEL_FRACTION`` of a pixel.
        tilt_degrees: angle between the normal and the direction in which slices actually advance.
    """

    order: np.ndarray
    distances: np.ndarray
    gaps: np.ndarray
    spacing: float | None
    uniform: bool
    duplicates: list[tuple[int, int]]
    missing: list[tuple[int, int]]
    shear: np.ndarray
    sheared: bool
    tilt_degrees: float


def _spacing_tolerance(spacing: float) -> float:
    return max(SPACING_ABS_TOL, SPACING_REL_TOL * spacing)


def _missing_slices(gaps: np.ndarray, spacing: float) -> list[tuple[int, int]]:
    tol = _spacing_tolerance(spacing)
    found = []
    for i, gap in enumerate(gaps):
        ratio = gap / spacing
        whole = round(ratio)
        if whole >= 2 and abs(gap - whole * spacing) <= tol * whole:
            found.append((i, whole - 1))
    return found


def _regular_spacing(gaps: np.ndarray) -> float:
    """The regular gap: the median of the non-duplicate gaps, robust to a few missing slices."""
    real = gaps[gaps > DUPLICATE_TOL]
    if real.size == 0:
        return 0.0
    smallest = float(np.min(real))
    # Gaps that are (near) whole multiples of the smallest one are missing slices, not the regular spacing.
    regular = real[np.abs(real - smallest) <= _spacing_tolerance(smallest)]
    return float(np.median(regular)) if regular.size * 2 >= real.size else float(np.median(real))


def analyse_positions(
    positions: np.ndarray, orientation: np.ndarray, pixel_spacing: tuple[float, float]
) -> StackGeometry:
    """Order slices along their normal and check spacing, duplicates and shear.

    Slice order comes from ``ImagePositionPatient`` projected on the normal, never from file names or
    ``InstanceNumber``; the spacing comes from those positions, never from ``SliceThickness``.

    Args:
        positions: ``(N, 3)`` ``ImagePositionPatient`` of each slice (LPS, mm).
        orientation: ``(6,)`` shared ``ImageOrientationPatient``.
        pixel_spacing: ``(row spacing, column spacing)`` in mm, for the shear tolerance.

    Returns:
        The :class:`StackGeometry`.
    """
    positions = np.asarray(positions, float).reshape(-1, 3)
    normal = slice_normal(np.asarray(orientation, float))
    projected = positions @ normal
    order = np.argsort(projected, kind="stable")
    distances = projected[order]
    gaps = np.diff(distances)
    n = len(distances)
    duplicates = [(i, i + 1) for i, g in enumerate(gaps) if g <= DUPLICATE_TOL]
    spacing = _regular_spacing(gaps) if n > 1 else None
    if spacing:
        uniform = bool(np.all(np.abs(gaps - spacing) <= _spacing_tolerance(spacing)))
        missing = [] if uniform else _missing_slices(gaps, spacing)
    else:
        uniform, missing = n == 1, []
    sorted_pos = positions[order]
    along = (distances - distances[0])[:, None] * normal[None, :]
    shear = sorted_pos - sorted_pos[0] - along
    max_shear = float(np.max(np.linalg.norm(shear, axis=1))) if n else 0.0
    sheared = max_shear > SHEAR_PIXEL_FRACTION * min(pixel_spacing)
    tilt = 0.0
    if n > 1 and distances[-1] - distances[0] > DUPLICATE_TOL:
        advance = sorted_pos[-1] - sorted_pos[0]
        cos = float(advance @ normal / np.linalg.norm(advance))
        tilt = float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
    return StackGeometry(
        order=order,
        distances=distances,
        gaps=gaps,
        spacing=spacing,
        uniform=uniform and not duplicates,
        duplicates=duplicates,
        missing=missing,
        shear=shear,
        sheared=sheared,
        tilt_degrees=tilt,
    )


def lps_affine(
    orientation: np.ndarray,
    pixel_spacing: tuple[float, float],
    origin: np.ndarray,
    slice_step: np.ndarray,
) -> np.ndarray:
    """Voxel-to-LPS affine of a stack in NIfTI index order ``(i = column, j = row, k = slice)``.

    Args:
        orientation: ``(6,)`` ``ImageOrientationPatient`` (row cosines, column cosines).
        pixel_spacing: DICOM ``PixelSpacing``: (distance between rows, distance between columns), mm.
        origin: ``(3,)`` position of the first voxel of the first slice (LPS, mm).
        slice_step: ``(3,)`` displacement from one slice to the next (LPS, mm).

    Returns:
        ``(4, 4)`` float64 affine. Multiply by :data:`LPS_TO_RAS` for NIfTI/MONAI RAS.
    """
    row, col = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
    affine = np.eye(4)
    affine[:3, 0] = row * float(pixel_spacing[1])
    affine[:3, 1] = col * float(pixel_spacing[0])
    affine[:3, 2] = np.asarray(slice_step, float)
    affine[:3, 3] = np.asarray(origin, float)
    return affine
