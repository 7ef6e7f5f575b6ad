"""Volume geometry between Slicer and NIfTI conventions (pure numpy; no Slicer import).

Slicer's ``slicer.util.arrayFromVolume`` returns arrays indexed ``[k, j, i]`` (KJI) and a volume node's
``GetIJKToRASMatrix`` maps voxel indices ``(i, j, k)`` to RAS millimetres. NIfTI (nibabel) arrays are indexed
``[i, j, k]`` and their affine maps the same indices to RAS too, so the 4x4 matrix is shared unchanged; only the
array axes are reversed. NRRD and ITK use LPS: ``lpsFromRas`` flips the first two world axes.
"""

from __future__ import annotations

import numpy as np

LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def niftiFromSlicer(arrayKji: np.ndarray, ijkToRas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slicer ``(K, J, I)`` array and IJK-to-RAS matrix -> NIfTI ``(I, J, K)`` array and RAS affine."""
    return np.ascontiguousarray(np.transpose(arrayKji, (2, 1, 0))), _checkedMatrix(ijkToRas).copy()


def slicerFromNifti(arrayIjk: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NIfTI ``(I, J, K)`` array and RAS affine -> Slicer ``(K, J, I)`` array and IJK-to-RAS matrix."""
    return np.ascontiguousarray(np.transpose(arrayIjk, (2, 1, 0))), _checkedMatrix(affine).copy()


def lpsFromRas(matrix: np.ndarray) -> np.ndarray:
    """IJK-to-RAS -> IJK-to-LPS (and back: the flip is its own inverse)."""
    return LPS_FROM_RAS @ _checkedMatrix(matrix)


def decompose(ijkToRas: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split a matrix into origin (3,), spacing (3,) in mm and unit direction columns (3, 3)."""
    matrix = _checkedMatrix(ijkToRas)
    spacing = np.linalg.norm(matrix[:3, :3], axis=0)
    if np.any(spacing == 0):
        raise ValueError("IJK-to-RAS matrix has a zero-length axis")
    return matrix[:3, 3].copy(), spacing, matrix[:3, :3] / spacing


def compose(origin: np.ndarray, spacing: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Inverse of ``decompose``: origin, spacing and direction columns -> 4x4 IJK-to-RAS."""
    matrix = np.eye(4)
    matrix[:3, :3] = np.asarray(directions, dtype=float) * np.asarray(spacing, dtype=float)
    matrix[:3, 3] = origin
    return matrix


def sameGrid(shapeA, affineA: np.ndarray, shapeB, affineB: np.ndarray, atol: float = 1e-4) -> bool:
    """True when two ``(I, J, K)`` grids have the same shape and voxel positions within ``atol`` mm."""
    return tuple(shapeA) == tuple(shapeB) and bool(np.allclose(affineA, affineB, rtol=0.0, atol=atol))


def alignToReference(arrayIjk: np.ndarray, affine: np.ndarray, refShape, refAffine: np.ndarray) -> np.ndarray | None:
    """Re-index ``arrayIjk`` onto the reference grid when both grids are the same lattice.

    Readers may flip or permute voxel axes (ITK forces right-handed IJK, for example). If the two grids hold the
    same voxel centres up to such a permutation or flip, return the array indexed like the reference grid;
    otherwise return ``None`` (resampling is the runner's job, not the GUI's).
    """
    # T maps reference voxel indices to indices of ``arrayIjk``.
    transform = np.linalg.solve(_checkedMatrix(affine), _checkedMatrix(refAffine))
    linear = np.rint(transform[:3, :3])
    offset = np.rint(transform[:3, 3])
    if not (np.allclose(transform[:3, :3], linear, atol=1e-6) and np.allclose(transform[:3, 3], offset, atol=1e-3)):
        return None
    if not (np.all(np.abs(linear).sum(axis=0) == 1) and np.all(np.abs(linear).sum(axis=1) == 1)):
        return None
    axes = [int(np.flatnonzero(linear[:, refAxis])[0]) for refAxis in range(3)]
    result = np.transpose(arrayIjk, axes)
    for refAxis, axis in enumerate(axes):
        if linear[axis, refAxis] < 0:
            result = np.flip(result, axis=refAxis)
    if result.shape != tuple(refShape):
        return None
    # Check the first reference voxel lands on the expected source voxel (the offset is consistent).
    expected = np.array([0 if linear[axis, r] > 0 else arrayIjk.shape[axis] - 1 for r, axis in enumerate(axes)])
    if not np.array_equal(expected, offset[axes]):
        return None
    return np.ascontiguousarray(result)


def _checkedMatrix(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=float)
    if matrix.shape != (4, 4):
        raise ValueError(f"expected a 4x4 matrix, got shape {matrix.shape}")
    return matrix
