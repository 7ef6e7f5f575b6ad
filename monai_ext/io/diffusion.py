"""b-values and gradient directions of a 4D diffusion volume, as FSL ``.bval``/``.bvec`` files beside a NIfTI.

The loader keeps each volume's direction in DICOM patient axes (LPS). FSL (and dcm2niix) write directions in the
frame of the image array: components along the voxel axes ``i, j, k`` of the NIfTI as stored, with the first
component negated when the affine's determinant is positive (FSL treats every image as if stored radiologically).
A volume with a b-value below :data:`B0_THRESHOLD` gets a zero vector.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from monai_ext.io.atomic import atomic_write_text
from monai_ext.io.volume import Volume

__all__ = ["B0_THRESHOLD", "bval_bvec_paths", "fsl_bvecs", "write_bval_bvec"]

B0_THRESHOLD = 5.0  # s/mm^2: at or below this a volume is a b=0 image and its direction is meaningless
LPS_TO_RAS_3 = np.diag([-1.0, -1.0, 1.0])


def fsl_bvecs(gradients_lps: np.ndarray, b_values: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Directions in FSL's image-axis convention.

    Args:
        gradients_lps: ``(T, 3)`` unit directions in patient LPS axes (NaN rows where unknown).
        b_values: ``(T,)`` b-values, s/mm^2.
        affine: ``(4, 4)`` voxel-to-RAS affine of the array as written.

    Returns:
        ``(3, T)`` bvecs (zero columns for b=0 and unknown directions).

    Example:
        >>> affine = np.diag([-2.0, 2.0, 3.0, 1.0])  # i runs to the left (L), j anterior, k superior
        >>> fsl_bvecs(np.array([[1.0, 0.0, 0.0]]), np.array([1000.0]), affine).ravel().tolist()  # along L
        [1.0, 0.0, 0.0]
    """
    axes = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
    ras = np.asarray(gradients_lps, float) @ LPS_TO_RAS_3
    voxel = np.linalg.solve(axes, ras.T)
    if np.linalg.det(affine[:3, :3]) > 0:
        voxel[0] = -voxel[0]
    unknown = ~np.all(np.isfinite(voxel), axis=0) | (np.asarray(b_values, float) <= B0_THRESHOLD)
    voxel[:, unknown] = 0.0
    return voxel


def bval_bvec_paths(nifti: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``x.nii.gz`` -> ``(x.bval, x.bvec)``."""
    path = Path(nifti)
    stem = path.name.removesuffix(".gz").removesuffix(".nii")
    return path.with_name(stem + ".bval"), path.with_name(stem + ".bvec")


def write_bval_bvec(volume: Volume, nifti: str | os.PathLike[str]) -> tuple[Path, Path] | None:
    """Write ``.bval`` and ``.bvec`` beside ``nifti`` (atomically) when the volume carries b-values.

    Returns:
        The two paths, or ``None`` when the volume has no diffusion information.
    """
    b_values = volume.meta.get("b_values")
    if not b_values or volume.array.ndim != 4 or len(b_values) != volume.array.shape[3]:
        return None
    b = np.array([np.nan if v is None else v for v in b_values], float)
    gradients = np.array([[np.nan] * 3 if g is None else g for g in volume.meta["gradients_lps"]], float)
    bvecs = fsl_bvecs(gradients, np.nan_to_num(b, nan=0.0), volume.affine)
    bval_path, bvec_path = bval_bvec_paths(nifti)
    atomic_write_text(bval_path, " ".join(f"{v:.6g}" for v in np.nan_to_num(b, nan=0.0)) + "\n")
    rows = [" ".join(f"{v:.6g}" for v in row + 0.0) for row in bvecs]
    atomic_write_text(bvec_path, "\n".join(rows) + "\n")
    return bval_path, bvec_path
