"""miniNifti (Slicer has no nibabel and cannot read 4D NIfTI) against nibabel on real files."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest
from MonaiBundleExplorerLib.volumeFiles import miniNifti


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii"])
@pytest.mark.parametrize("form", ["sform", "qform"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
def test_reads_what_nibabel_writes(tmp_path, oblique_affine, suffix, form, dtype):
    data = (np.random.default_rng(0).random((5, 4, 3, 2)) * 100).astype(dtype)
    image = nib.Nifti1Image(data, oblique_affine)
    if form == "qform":
        image.set_sform(None, code=0)
        image.set_qform(oblique_affine, code=1)
    path = tmp_path / f"m{suffix}"
    nib.save(image, path)
    array, affine = miniNifti.readNifti(path)
    np.testing.assert_array_equal(array, data)
    np.testing.assert_allclose(affine, nib.load(path).affine, atol=1e-5)


def test_big_endian_files(tmp_path, oblique_affine):
    data = np.arange(60, dtype=">i2").reshape(5, 4, 3)
    path = tmp_path / "big.nii"
    nib.save(nib.Nifti1Image(data, oblique_affine), path)
    array, _ = miniNifti.readNifti(path)
    np.testing.assert_array_equal(array, data)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"short", "too short"), (b"\0" * 400, "not a single-file NIfTI-1"), (None, "truncated")],
)
def test_bad_files_are_named(tmp_path, oblique_affine, content, message):
    path = tmp_path / "bad.nii.gz"
    if content is None:  # a valid header whose data stops early
        nib.save(nib.Nifti1Image(np.zeros((8, 8, 8), np.float32), oblique_affine), path)
        content = gzip.decompress(path.read_bytes())[:600]
    path.write_bytes(gzip.compress(content))
    with pytest.raises(ValueError, match=message) as error:
        miniNifti.readNifti(path)
    assert str(path) in str(error.value)
