"""Compare a volume with a dcm2niix conversion: shape up to axis order, spacing, centre, voxels, b-values/vectors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from monai_ext.io.diffusion import B0_THRESHOLD

__all__ = ["Comparison", "compare_with_dcm2niix", "world_directions"]


@dataclass(frozen=True)
class Comparison:
    """How a volume differs from the dcm2niix reference (canonical RAS axis order for both)."""

    shape: tuple[int, ...]
    reference_shape: tuple[int, ...]
    spacing_diff: float
    centre_diff: float
    min_correlation: float
    bvals_equal: bool | None
    bvecs_equal: bool | None

    @property
    def ok(self) -> bool:
        """The issue's targets: same shape, spacing within 0.01 mm, centre within 1 mm, r > 0.999."""
        return (
            self.shape == self.reference_shape
            and self.spacing_diff <= 0.01
            and self.centre_diff <= 1.0
            and self.min_correlation > 0.999
            and self.bvals_equal is not False
            and self.bvecs_equal is not False
        )


def world_directions(bvecs: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """FSL bvecs ``(3, T)`` back to RAS world directions ``(T, 3)`` (inverse of the FSL convention)."""
    voxel = np.array(bvecs, float)
    if np.linalg.det(affine[:3, :3]) > 0:
        voxel[0] = -voxel[0]
    axes = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
    return (axes @ voxel).T


def _centre(image: nib.Nifti1Image) -> np.ndarray:
    half = (np.array(image.shape[:3]) - 1) / 2.0
    return image.affine[:3, :3] @ half + image.affine[:3, 3]


def compare_with_dcm2niix(ours: Path, reference: Path) -> Comparison:
    """Compare two NIfTI files (ours first), with ``.bval``/``.bvec`` beside them when present."""
    a, b = nib.load(ours), nib.load(reference)
    ca, cb = nib.as_closest_canonical(a), nib.as_closest_canonical(b)
    spacing = float(np.max(np.abs(np.array(ca.header.get_zooms()[:3]) - np.array(cb.header.get_zooms()[:3]))))
    centre = float(np.linalg.norm(_centre(a) - _centre(b)))
    correlation = float("nan")
    if ca.shape == cb.shape:
        da = np.asarray(ca.dataobj, np.float64).reshape(*ca.shape[:3], -1)
        db = np.asarray(cb.dataobj, np.float64).reshape(*cb.shape[:3], -1)
        correlation = min(float(np.corrcoef(da[..., t].ravel(), db[..., t].ravel())[0, 1]) for t in range(da.shape[3]))
    bvals_equal = bvecs_equal = None
    ref_bval = reference.with_name(reference.name.removesuffix(".gz").removesuffix(".nii") + ".bval")
    our_bval = ours.with_name(ours.name.removesuffix(".gz").removesuffix(".nii") + ".bval")
    if ref_bval.exists():
        ref_b, our_b = np.loadtxt(ref_bval, ndmin=1), np.loadtxt(our_bval, ndmin=1) if our_bval.exists() else None
        bvals_equal = our_b is not None and our_b.shape == ref_b.shape and bool(np.allclose(our_b, ref_b, atol=0.5))
        if bvals_equal:
            ref_w = world_directions(np.loadtxt(ref_bval.with_suffix(".bvec"), ndmin=2), b.affine)
            our_w = world_directions(np.loadtxt(our_bval.with_suffix(".bvec"), ndmin=2), a.affine)
            weighted = ref_b > B0_THRESHOLD
            dots = np.abs(np.sum(ref_w[weighted] * our_w[weighted], axis=1))
            bvecs_equal = bool(np.all(dots > 0.999))  # same axis; the sign of a diffusion direction is moot
    return Comparison(
        shape=tuple(int(s) for s in ca.shape),
        reference_shape=tuple(int(s) for s in cb.shape),
        spacing_diff=spacing,
        centre_diff=centre,
        min_correlation=correlation,
        bvals_equal=bvals_equal,
        bvecs_equal=bvecs_equal,
    )
