"""Property tests of DICOM geometry: write/load round trips over random affines, and the pure slice analysis.

``write_dicom_series`` writes a real single-frame series from a RAS affine; loading it must give back the
same voxels and the same affine whatever the rotation, spacing, flips, file names or ``InstanceNumber``.
A stack written against its slice normal (negative determinant) comes back in normal order: the same image,
with ``k`` reversed and the affine's third column negated.

Hypothesis and the ``tmp_path`` fixture do not mix (one directory for all examples), so every example makes
its own ``tempfile.TemporaryDirectory()``.
"""

from __future__ import annotations

import string
import tempfile
from pathlib import Path

import numpy as np
import pydicom
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from monai_ext.io import load_dicom_series, write_dicom_series
from monai_ext.io.dicom.planning.geometry import SHEAR_PIXEL_FRACTION, analyse_positions, slice_normal

PROPERTY = settings(max_examples=25, deadline=None)
AFFINE_ATOL = 1e-4

spacings = st.floats(0.3, 5.0, allow_nan=False, allow_infinity=False)
quaternions = st.tuples(*[st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False)] * 4)
origins = st.tuples(*[st.floats(-300.0, 300.0, allow_nan=False, allow_infinity=False)] * 3)
flips = st.tuples(st.booleans(), st.booleans(), st.booleans())
seeds = st.integers(0, 2**32 - 1)
file_names = st.text(string.ascii_lowercase + string.digits + "_-.", min_size=1, max_size=12).filter(
    lambda s: s not in {".", ".."}
)


def _rotation(q: tuple[float, float, float, float]) -> np.ndarray:
    """Rotation matrix of the (normalised) quaternion ``(w, x, y, z)``."""
    w, x, y, z = np.asarray(q, float) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


@st.composite
def volumes(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """A small integer volume (HU-like) and a random RAS affine: rotation, spacings, flips, origin."""
    shape = (draw(st.integers(4, 12)), draw(st.integers(4, 12)), draw(st.integers(2, 8)))
    q = draw(quaternions)
    assume(np.linalg.norm(q) > 0.1)
    signs = np.where(draw(flips), -1.0, 1.0)
    spacing = np.array([draw(spacings) for _ in range(3)])
    affine = np.eye(4)
    affine[:3, :3] = _rotation(q) @ np.diag(spacing * signs)
    affine[:3, 3] = draw(origins)
    rng = np.random.default_rng(draw(seeds))
    array = rng.integers(-1024, 3000, size=shape).astype(np.int16)
    return array, affine


def _as_loaded(array: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What the loader must return: slices in the direction of the normal (row x column cosines)."""
    if np.linalg.det(affine[:3, :3]) > 0:  # LPS_TO_RAS has determinant +1: the sign is the same in LPS
        return array, affine
    flipped = affine.copy()
    flipped[:3, 2] = -affine[:3, 2]
    flipped[:3, 3] = affine[:3, 3] + (array.shape[2] - 1) * affine[:3, 2]
    return array[:, :, ::-1], flipped


def _check_round_trip(folder: Path, array: np.ndarray, affine: np.ndarray) -> None:
    volume = load_dicom_series(folder)
    expected_array, expected_affine = _as_loaded(array, affine)
    assert volume.shape == array.shape
    np.testing.assert_array_equal(volume.array, expected_array)
    np.testing.assert_allclose(volume.affine, expected_affine, rtol=0, atol=AFFINE_ATOL)
    assert volume.meta["problems"] == []


@PROPERTY
@given(volume=volumes(), data=st.data())
def test_round_trip_any_rotation_spacing_flip_and_file_names(volume, data):
    array, affine = volume
    k = array.shape[2]
    names = data.draw(st.lists(file_names, min_size=k, max_size=k, unique=True), label="file names")
    with tempfile.TemporaryDirectory() as tmp:
        written = write_dicom_series(array, affine, tmp, file_names=names)
        assert [p.name for p in written] == names
        _check_round_trip(Path(tmp), array, affine)


@PROPERTY
@given(volume=volumes(), data=st.data())
def test_slice_order_ignores_file_names_and_instance_numbers(volume, data):
    array, affine = volume
    k = array.shape[2]
    # Name order is a random permutation of slice order; InstanceNumber is another one (or absent).
    name_order = data.draw(st.permutations(range(k)), label="name order")
    instance_numbers = data.draw(
        st.one_of(st.permutations(range(1, k + 1)), st.lists(st.none(), min_size=k, max_size=k)),
        label="instance numbers",
    )
    with tempfile.TemporaryDirectory() as tmp:
        written = write_dicom_series(array, affine, tmp, file_names=[f"IM{n:04d}" for n in name_order])
        for path, number in zip(written, instance_numbers, strict=True):
            ds = pydicom.dcmread(path)
            if number is None:
                del ds.InstanceNumber
            else:
                ds.InstanceNumber = number
            ds.save_as(path)
        _check_round_trip(Path(tmp), array, affine)


# --- analyse_positions: pure function ---------------------------------------------------------------------


@st.composite
def stacks(draw: st.DrawFn, min_slices: int = 2, max_slices: int = 12):
    """A regular, orthogonal stack: positions ``origin + k * spacing * normal`` of a random orientation."""
    q = draw(quaternions)
    assume(np.linalg.norm(q) > 0.1)
    rotation = _rotation(q)
    orientation = np.concatenate([rotation[:, 0], rotation[:, 1]])
    normal = slice_normal(orientation)
    n = draw(st.integers(min_slices, max_slices))
    spacing = draw(spacings)
    pixel_spacing = (draw(spacings), draw(spacings))
    origin = np.array(draw(origins))
    positions = origin + np.arange(n)[:, None] * spacing * normal
    return positions, orientation, pixel_spacing, spacing


def _shuffled(positions: np.ndarray, permutation: list[int]) -> np.ndarray:
    return positions[np.asarray(permutation, int)]


@PROPERTY
@given(
    orientation_q=quaternions,
    positions=st.lists(origins, min_size=1, max_size=12),
    pixel_spacing=st.tuples(spacings, spacings),
    data=st.data(),
)
def test_sorted_distances_do_not_depend_on_input_order(orientation_q, positions, pixel_spacing, data):
    assume(np.linalg.norm(orientation_q) > 0.1)
    rotation = _rotation(orientation_q)
    orientation = np.concatenate([rotation[:, 0], rotation[:, 1]])
    positions = np.array(positions, float)
    permutation = data.draw(st.permutations(range(len(positions))), label="permutation")
    reference = analyse_positions(positions, orientation, pixel_spacing)
    permuted = analyse_positions(_shuffled(positions, permutation), orientation, pixel_spacing)
    np.testing.assert_allclose(permuted.distances, reference.distances, rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.diff(reference.distances), reference.gaps, rtol=0, atol=1e-9)
    assert np.all(reference.gaps >= 0)
    # order really sorts the input: the projections of the reordered positions are the sorted distances
    normal = slice_normal(orientation)
    np.testing.assert_allclose(positions[reference.order] @ normal, reference.distances, rtol=0, atol=1e-9)


@PROPERTY
@given(stack=stacks(min_slices=4, max_slices=20), data=st.data())
def test_one_removed_interior_slice_is_one_missing(stack, data):
    positions, orientation, pixel_spacing, spacing = stack
    n = len(positions)
    removed = data.draw(st.integers(1, n - 2), label="removed slice")
    kept = np.delete(positions, removed, axis=0)
    permutation = data.draw(st.permutations(range(n - 1)), label="permutation")
    geo = analyse_positions(_shuffled(kept, permutation), orientation, pixel_spacing)
    assert geo.missing == [(removed - 1, 1)]
    assert not geo.uniform
    assert geo.duplicates == []
    assert geo.spacing is not None and abs(geo.spacing - spacing) < 1e-6


@PROPERTY
@given(stack=stacks(min_slices=2, max_slices=12), data=st.data())
def test_duplicated_position_is_listed(stack, data):
    positions, orientation, pixel_spacing, _ = stack
    n = len(positions)
    copied = data.draw(st.integers(0, n - 1), label="duplicated slice")
    with_copy = np.vstack([positions, positions[copied]])
    permutation = data.draw(st.permutations(range(n + 1)), label="permutation")
    geo = analyse_positions(_shuffled(with_copy, permutation), orientation, pixel_spacing)
    # input index of the two copies after shuffling
    copies = {permutation.index(copied), permutation.index(n)}
    assert len(geo.duplicates) == 1
    [(a, b)] = geo.duplicates
    assert b == a + 1
    assert {int(geo.order[a]), int(geo.order[b])} == copies
    assert not geo.uniform


@PROPERTY
@given(
    stack=stacks(min_slices=2, max_slices=12),
    drift_pixels=st.floats(2 * SHEAR_PIXEL_FRACTION, 5.0),
    angle=st.floats(0.0, 2 * np.pi),
    data=st.data(),
)
def test_in_plane_drift_is_sheared(stack, drift_pixels, angle, data):
    positions, orientation, pixel_spacing, _ = stack
    n = len(positions)
    direction = np.cos(angle) * orientation[:3] + np.sin(angle) * orientation[3:]  # in the slice plane
    total = drift_pixels * min(pixel_spacing)  # in-plane drift of the last slice relative to the first, mm
    sheared = positions + (np.arange(n) / (n - 1))[:, None] * total * direction
    permutation = data.draw(st.permutations(range(n)), label="permutation")
    geo = analyse_positions(_shuffled(sheared, permutation), orientation, pixel_spacing)
    assert geo.sheared
    assert geo.tilt_degrees > 0
    assert float(np.max(np.linalg.norm(geo.shear, axis=1))) >= total * (1 - 1e-9)
    assert geo.uniform  # the drift is in-plane: spacing along the normal is untouched


@PROPERTY
@given(stack=stacks(min_slices=1, max_slices=12), data=st.data())
def test_orthogonal_stack_is_never_sheared(stack, data):
    positions, orientation, pixel_spacing, spacing = stack
    n = len(positions)
    permutation = data.draw(st.permutations(range(n)), label="permutation")
    geo = analyse_positions(_shuffled(positions, permutation), orientation, pixel_spacing)
    assert not geo.sheared
    assert float(np.max(np.abs(geo.shear))) < 1e-6
    assert geo.tilt_degrees < 1e-3
    assert geo.uniform and geo.missing == [] and geo.duplicates == []
    np.testing.assert_array_equal(geo.order, [permutation.index(k) for k in range(n)])  # slice k of the stack
    if n > 1:
        assert abs(geo.spacing - spacing) < 1e-6
