"""Real scanner series against the dcm2niix references and SimpleITK (where SimpleITK is right)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from monai_ext.io import MissingSliceError, load_dicom_series, plan_volume, scan
from monai_ext.io.dicom.pixels import read_pixels
from monai_ext.io.dicom.planning.geometry import LPS_TO_RAS

pytestmark = pytest.mark.realdata

CASES = [
    ("ct_slab", "lidc0314_slab_ct", (512, 512, 64), "int16"),
    ("ct_phantom", "philips_phantom_ct_5mm", (512, 512, 28), "int16"),
    ("mr_t1_sag", "siemens_prisma_t1_fl2d_sag", (256, 256, 35), "int16"),
]


def _canonical(array: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    image = nib.as_closest_canonical(nib.Nifti1Image(np.asarray(array), affine))
    return np.asarray(image.dataobj), image.affine


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize(("fixture", "reference", "shape", "dtype"), CASES)
def test_matches_dcm2niix_voxels_and_affine(request, dcm2niix_ref, fixture, reference, shape, dtype):
    folder = request.getfixturevalue(fixture)
    before = _digest(folder)
    volume = load_dicom_series(folder)
    assert volume.shape == shape
    assert str(volume.array.dtype) == dtype
    ref = nib.load(dcm2niix_ref / f"{reference}.nii.gz")
    ours_data, ours_affine = _canonical(volume.array, volume.affine)
    ref_data, ref_affine = _canonical(np.asanyarray(ref.dataobj), ref.affine)
    np.testing.assert_allclose(ours_affine, ref_affine, atol=1e-3)
    np.testing.assert_array_equal(ours_data, ref_data)
    assert _digest(folder) == before, "the loader modified its input"


@pytest.mark.parametrize("fixture", ["ct_slab", "ct_phantom", "mr_t1_sag"])
def test_matches_simpleitk_on_complete_series(request, fixture):
    folder = request.getfixturevalue(fixture)
    volume = load_dicom_series(folder)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
    image = reader.Execute()
    sitk_array = sitk.GetArrayFromImage(image).transpose(2, 1, 0)  # (k, j, i) -> (i, j, k)
    direction = np.array(image.GetDirection()).reshape(3, 3)
    lps = np.eye(4)
    lps[:3, :3] = direction * np.array(image.GetSpacing())[None, :]
    lps[:3, 3] = image.GetOrigin()
    np.testing.assert_allclose(volume.affine, LPS_TO_RAS @ lps, atol=1e-4)
    np.testing.assert_array_equal(volume.array, sitk_array)


def test_missing_slice_refused_where_simpleitk_is_wrong(mr_t2_missing):
    with pytest.raises(MissingSliceError) as info:
        load_dicom_series(mr_t2_missing)
    err = info.value
    assert "instance 34 and 36" in str(err)
    assert len(err.files) == 2 and all(f.parent == mr_t2_missing for f in err.files)
    # SimpleITK returns 55 evenly spaced slices: the slice spacing it reports is wrong past the gap.
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(mr_t2_missing)))
    assert reader.Execute().GetSize()[2] == 55


def test_missing_slice_resampled_on_request(mr_t2_missing):
    result = scan(mr_t2_missing)
    plan = plan_volume(result.series[0], resample=True)
    [(before, count)] = plan.geometry.missing
    assert count == 1
    volume = load_dicom_series(result, resample=True)
    assert volume.shape == (384, 512, 56)
    assert volume.spacing[2] == pytest.approx(2.5, abs=1e-3)
    assert any("1 missing slice(s) interpolated" in p for p in volume.meta["problems"])
    # Acquired slices are kept as they are; the missing one is the mean of its two neighbours.
    ordered = plan.stacks[0]
    originals = np.zeros((384, 512, 2), np.float32)
    read_pixels(ordered[before : before + 2], originals.transpose(2, 1, 0))
    np.testing.assert_allclose(volume.array[:, :, before], originals[:, :, 0])
    np.testing.assert_allclose(volume.array[:, :, before + 2], originals[:, :, 1])
    np.testing.assert_allclose(volume.array[:, :, before + 1], originals.mean(axis=2), rtol=1e-6)


def test_oblique_t2_geometry_is_orthonormal(mr_t2_missing):
    volume = load_dicom_series(mr_t2_missing, resample=True)
    directions = volume.affine[:3, :3] / np.linalg.norm(volume.affine[:3, :3], axis=0)
    np.testing.assert_allclose(directions.T @ directions, np.eye(3), atol=1e-5)
    assert not np.allclose(np.abs(directions), np.eye(3), atol=1e-3), "the T2 series is oblique"


def test_scan_skips_non_images_with_reasons(ct_phantom):
    result = scan(ct_phantom)
    assert len(result.series) == 1
    reasons = {p.name: r for p, r in ((s.path, s.reason) for s in result.skipped)}
    assert "media storage directory" in reasons["DIRFILE"]
    assert reasons["SOURCE.txt"] == "not a DICOM file"


FIRST_RELEASE = (
    "ct-chest-lidc0314-slab",
    "ct-head-phantom-philips",
    "mr-head-t1-sag-siemens-prisma",
    "mr-brain-t2-ax-siemens-trio",
)


def test_whole_tree_lists_every_series(shared_data):
    result = scan([shared_data / "dicom" / name for name in FIRST_RELEASE])
    modalities = sorted(s.identity.modality for s in result.series)
    assert modalities == ["CT", "CT", "MR", "MR"]
    assert sorted(len(s.headers) for s in result.series) == [28, 35, 55, 64]
