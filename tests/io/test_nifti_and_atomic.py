"""NIfTI round trips on real files, atomic output, and the no-PHI sidecar."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from monai_ext.io import NiftiError, load_nifti, save_nifti
from monai_ext.io.atomic import atomic_path
from monai_ext.io.volume import Volume

REAL = ["nibabel/anatomical.nii", "nibabel/example4d.nii.gz", "dipy/aniso_vox.nii.gz"]


@pytest.mark.realdata
@pytest.mark.parametrize("name", REAL)
def test_real_nifti_round_trip_keeps_values_and_affine(shared_data, tmp_path, name):
    source = shared_data / "nifti" / "real" / name
    volume = load_nifti(source)
    reference = nib.load(source)
    np.testing.assert_array_equal(volume.array, np.asanyarray(reference.dataobj))
    out = save_nifti(volume, tmp_path / "copy.nii.gz", sidecar=False)
    back = load_nifti(out)
    np.testing.assert_array_equal(back.array, volume.array)
    np.testing.assert_allclose(back.affine, reference.affine, atol=1e-5)


def test_big_endian_input_is_returned_native(shared_data):
    volume = load_nifti(shared_data / "nifti" / "real" / "nibabel" / "anatomical.nii")
    assert volume.array.dtype.byteorder in ("=", "|")


def test_atomic_path_leaves_target_untouched_on_failure(tmp_path):
    target = tmp_path / "x.nii.gz"
    target.write_text("old")

    def crash() -> None:
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("writer crashed")

    with pytest.raises(RuntimeError):
        crash()
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nii.gz"]


def test_save_refuses_bad_suffix_and_nonfinite_affine(tmp_path):
    volume = Volume(array=np.zeros((2, 2, 2), np.int16), affine=np.eye(4))
    with pytest.raises(NiftiError, match=r"\.nii"):
        save_nifti(volume, tmp_path / "x.nrrd")
    bad = Volume(array=volume.array, affine=np.full((4, 4), np.nan))
    with pytest.raises(NiftiError, match="non-finite"):
        save_nifti(bad, tmp_path / "x.nii.gz")
    assert list(tmp_path.iterdir()) == []


def test_unreadable_nifti_names_the_file(tmp_path):
    path = tmp_path / "broken.nii.gz"
    path.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(NiftiError) as info:
        load_nifti(path)
    assert info.value.files == [path]


def test_sidecar_has_no_patient_fields_even_when_passed(tmp_path):
    from monai_ext.io.sidecar import sidecar_dict

    volume = Volume(array=np.zeros((2, 2, 2), np.int16), affine=np.eye(4), meta={"problems": ["x"]})
    data = sidecar_dict(volume, extra={"PatientName": "DOE^JANE", "Note": "kept"})
    assert "PatientName" not in data and data["Note"] == "kept" and data["Problems"] == ["x"]
    json.dumps(data)


def test_unit_range_maps_store_as_uint8_within_half_a_step(tmp_path) -> None:
    from monai_ext.io.nifti import NiftiError, load_nifti, save_nifti
    from monai_ext.io.volume import Volume

    values = np.linspace(0.0, 1.0, 4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    affine = np.diag([0.8, 0.8, 2.0, 1.0])
    path = save_nifti(
        Volume(array=values, affine=affine), tmp_path / "map.nii.gz", sidecar=False, unit_range_uint8=True
    )
    import nibabel as nib

    assert nib.load(path).get_data_dtype() == np.uint8
    back = load_nifti(path)
    assert np.abs(back.array - values).max() <= 0.5 / 255 + 1e-6
    assert back.array.min() == 0.0 and back.array.max() <= 1.0
    np.testing.assert_allclose(back.affine, affine)
    with pytest.raises(NiftiError, match=r"\[0, 1\]"):
        save_nifti(Volume(array=values * 2, affine=affine), tmp_path / "bad.nii.gz", unit_range_uint8=True)
