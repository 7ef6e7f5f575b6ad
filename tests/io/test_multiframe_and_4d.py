"""Enhanced multi-frame DICOM and 4D (multi-echo) series."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from monai_ext.cli.demo import example_affine
from monai_ext.io import (
    MultipleStacksError,
    load_dicom_series,
    scan,
    write_dicom_series,
    write_enhanced_dicom,
)


def _real_ct_block(folder, n=8):
    """The first ``n`` slices (by position) of the real CT slab, as an (I, J, K) array and RAS affine."""
    volume = load_dicom_series(folder)
    return volume.array[:, :, :n].copy(), volume.affine.copy()


@pytest.mark.realdata
def test_enhanced_multiframe_from_real_ct_matches_classic(ct_slab, tmp_path):
    array, affine = _real_ct_block(ct_slab)
    rng = np.random.default_rng(3)
    write_enhanced_dicom(array, affine, tmp_path / "mf" / "enhanced.dcm", frame_order=rng.permutation(8).tolist())
    volume = load_dicom_series(tmp_path / "mf")
    np.testing.assert_array_equal(volume.array, array)
    np.testing.assert_allclose(volume.affine, affine, atol=1e-5)
    [series] = scan(tmp_path / "mf").series
    assert [h.frame for h in series.headers] == list(range(8))


def test_per_frame_rescale_is_applied(tmp_path):
    array = np.arange(6 * 5 * 4, dtype=np.int16).reshape(6, 5, 4)
    path = write_enhanced_dicom(array, example_affine(), tmp_path / "e.dcm", rescale_intercept=0.0)
    ds = pydicom.dcmread(path)
    # Give frame 2 its own pixel value transformation (slope 2, intercept -10).
    transform = pydicom.Dataset()
    transform.RescaleSlope, transform.RescaleIntercept, transform.RescaleType = "2", "-10", "US"
    ds.PerFrameFunctionalGroupsSequence[2].PixelValueTransformationSequence = pydicom.Sequence([transform])
    ds.save_as(path)
    volume = load_dicom_series(tmp_path)
    expected = array.astype(np.float64)
    expected[:, :, 2] = expected[:, :, 2] * 2 - 10
    np.testing.assert_array_equal(volume.array, expected)


def _set_echo(folder, echo, te):
    for path in folder.iterdir():
        ds = pydicom.dcmread(path)
        ds.EchoNumbers, ds.EchoTime = echo, te
        ds.save_as(path)


def test_multi_echo_series_loads_as_4d_never_interleaved(tmp_path):
    first = np.full((6, 5, 4), 100, np.int16)
    second = np.full((6, 5, 4), 50, np.int16)
    first[..., 1] += 1
    write_dicom_series(first, example_affine(), tmp_path / "e1", modality="MR", rescale_intercept=0, series_uid="9.9")
    write_dicom_series(second, example_affine(), tmp_path / "e2", modality="MR", rescale_intercept=0, series_uid="9.9")
    _set_echo(tmp_path / "e2", 2, 90.0)
    _set_echo(tmp_path / "e1", 1, 10.0)
    volume = load_dicom_series(tmp_path)
    assert volume.shape == (6, 5, 4, 2)
    assert volume.meta["frame_axis"] == "echo_number" and volume.meta["frame_values"] == [1, 2]
    np.testing.assert_array_equal(volume.array[..., 0], first)
    np.testing.assert_array_equal(volume.array[..., 1], second)
    single = load_dicom_series(tmp_path, stack=1)
    np.testing.assert_array_equal(single.array, second)


def test_localizer_in_another_orientation_must_be_chosen(tmp_path):
    axial = np.zeros((6, 5, 4), np.int16)
    write_dicom_series(axial, example_affine(), tmp_path / "ax", series_uid="7.7")
    sagittal = np.eye(4)[[2, 0, 1, 3]] @ np.diag([1.0, 1.0, 1.0, 1.0])
    sagittal[:3, 3] = [5, 5, 5]
    write_dicom_series(np.zeros((5, 5, 1), np.int16), sagittal, tmp_path / "loc", series_uid="7.7")
    with pytest.raises(MultipleStacksError) as info:
        load_dicom_series(tmp_path)
    assert "[0]" in str(info.value) and "[1]" in str(info.value)
    assert load_dicom_series(tmp_path, stack=0).shape == (6, 5, 4)
