"""Geometry adapter: Slicer KJI arrays + IJK-to-RAS <-> NIfTI IJK arrays + affines, exact round trips."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from MonaiBundleExplorerLib.volumeFiles import geometry, miniNrrd


@st.composite
def grids(draw):
    """A random shape (2-6 voxels a side), rotation, axis flips/permutation, spacing and origin."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    shape = tuple(draw(st.lists(st.integers(2, 6), min_size=3, max_size=3)))
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    rotation = q * np.sign(np.diag(r))  # any rotation or reflection
    spacing = np.array(draw(st.lists(st.floats(0.1, 5.0), min_size=3, max_size=3)))
    matrix = geometry.compose(rng.uniform(-200, 200, 3), spacing, rotation)
    return rng.normal(size=shape[::-1]).astype(np.float32), matrix


@settings(max_examples=60, deadline=None)
@given(grids())
def test_slicer_nifti_round_trip_is_exact(grid):
    array_kji, ijk_to_ras = grid
    array_ijk, affine = geometry.niftiFromSlicer(array_kji, ijk_to_ras)
    back_array, back_matrix = geometry.slicerFromNifti(array_ijk, affine)
    np.testing.assert_array_equal(back_array, array_kji)
    np.testing.assert_array_equal(back_matrix, ijk_to_ras)
    k, j, i = (s - 1 for s in array_kji.shape)
    assert array_ijk[i, j, k] == array_kji[k, j, i]
    # The same voxel lands on the same RAS point through both conventions.
    np.testing.assert_allclose(affine @ [i, j, k, 1], ijk_to_ras @ [i, j, k, 1])


@settings(max_examples=60, deadline=None)
@given(grids())
def test_decompose_compose_round_trip(grid):
    _, matrix = grid
    origin, spacing, directions = geometry.decompose(matrix)
    np.testing.assert_allclose(geometry.compose(origin, spacing, directions), matrix, atol=1e-12)
    np.testing.assert_allclose(np.abs(np.linalg.det(directions)), 1.0, atol=1e-9)
    np.testing.assert_array_equal(geometry.lpsFromRas(geometry.lpsFromRas(matrix)), matrix)


@settings(max_examples=60, deadline=None)
@given(grids(), st.permutations([0, 1, 2]), st.lists(st.booleans(), min_size=3, max_size=3))
def test_align_undoes_any_axis_permutation_and_flip(grid, order, flips):
    array_kji, matrix = grid
    array_ijk, affine = geometry.niftiFromSlicer(array_kji, matrix)
    # Re-index the same voxels: permute axes, flip some, and move the affine so world positions are unchanged.
    moved = np.transpose(array_ijk, order)
    index = np.eye(4)[:, [*order, 3]]
    for axis, flip in enumerate(flips):
        if flip:
            moved = np.flip(moved, axis)
            flip_matrix = np.eye(4)
            flip_matrix[axis, axis], flip_matrix[axis, 3] = -1, moved.shape[axis] - 1
            index = index @ flip_matrix
    moved_affine = affine @ index
    aligned = geometry.alignToReference(moved, moved_affine, array_ijk.shape, affine)
    np.testing.assert_array_equal(aligned, array_ijk)


def test_align_refuses_a_shifted_grid(oblique_affine):
    array = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    shifted = oblique_affine @ np.array([[1, 0, 0, 0.5], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])
    assert geometry.alignToReference(array, shifted, array.shape, oblique_affine) is None
    assert geometry.alignToReference(array, oblique_affine, (4, 3, 2), oblique_affine) is None


def test_nifti_file_carries_the_slicer_geometry(tmp_path, oblique_affine):
    array_kji = np.random.default_rng(0).normal(size=(5, 4, 3)).astype(np.float32)
    array_ijk, affine = geometry.niftiFromSlicer(array_kji, oblique_affine)
    nib.save(nib.Nifti1Image(array_ijk, affine), tmp_path / "v.nii.gz")
    image = nib.load(tmp_path / "v.nii.gz")
    np.testing.assert_allclose(image.affine, oblique_affine, atol=1e-5)  # NIfTI stores float32
    np.testing.assert_array_equal(geometry.slicerFromNifti(np.asarray(image.dataobj), image.affine)[0], array_kji)


@pytest.mark.parametrize("compress", [True, False])
def test_mini_nrrd_matches_simpleitk(tmp_path, oblique_affine, compress):
    sitk = pytest.importorskip("SimpleITK")
    array_ijk = np.random.default_rng(1).normal(size=(3, 4, 5)).astype(np.float32)
    path = tmp_path / "v.nrrd"
    miniNrrd.writeNrrd(path, array_ijk, oblique_affine, compress=compress)
    image = sitk.ReadImage(str(path))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), array_ijk.transpose(2, 1, 0))
    origin, spacing, directions = geometry.decompose(geometry.lpsFromRas(oblique_affine))
    np.testing.assert_allclose(image.GetOrigin(), origin)
    np.testing.assert_allclose(image.GetSpacing(), spacing)
    np.testing.assert_allclose(np.reshape(image.GetDirection(), (3, 3)), directions, atol=1e-12)
    back, matrix = miniNrrd.readNrrd(path)
    np.testing.assert_array_equal(back, array_ijk)
    np.testing.assert_allclose(matrix, oblique_affine, atol=1e-12)
