"""MONAI LoadImage/LoadImaged with the DICOM series reader: same MetaTensor convention as NIfTI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import LoadImage, LoadImaged

from monai_ext.cli.demo import example_affine
from monai_ext.data import head_phantom_hu
from monai_ext.io import DicomSeriesReader, MissingSliceError, save_nifti, write_dicom_series
from monai_ext.io.volume import Volume


@pytest.fixture
def series(tmp_path):
    phantom = head_phantom_hu((14, 12, 7))
    write_dicom_series(phantom, example_affine(), tmp_path / "dcm")
    return tmp_path / "dcm", phantom


def test_dicom_folder_and_nifti_give_the_same_metatensor(series, tmp_path):
    folder, phantom = series
    dicom = LoadImage(reader=DicomSeriesReader(), image_only=True, ensure_channel_first=True)(folder)
    nifti_path = save_nifti(Volume(array=phantom, affine=example_affine()), tmp_path / "p.nii.gz", sidecar=False)
    nifti = LoadImage(image_only=True, ensure_channel_first=True)(nifti_path)
    assert isinstance(dicom, MetaTensor)
    assert dicom.shape == (1, 14, 12, 7) == nifti.shape
    torch.testing.assert_close(dicom.affine, nifti.affine, atol=1e-4, rtol=0)
    torch.testing.assert_close(dicom.as_tensor(), nifti.as_tensor())
    assert dicom.meta["space"] == "RAS"


def test_dictionary_loader_in_a_pipeline(series):
    folder, phantom = series
    out = LoadImaged(keys="image", reader=DicomSeriesReader(), image_only=True, dtype=None)({"image": str(folder)})
    assert out["image"].dtype == torch.int16
    np.testing.assert_array_equal(out["image"].numpy(), phantom)


def test_reader_refuses_missing_slice_and_can_resample(series):
    """MONAI falls back to its own readers when a designated reader raises: the refusal must survive."""
    folder, _ = series
    (folder / "IM0003").unlink()
    with pytest.raises(MissingSliceError):
        LoadImage(reader=DicomSeriesReader(), image_only=True)(folder)
    with pytest.raises(MissingSliceError):
        LoadImaged(keys="image", reader=DicomSeriesReader())({"image": folder})
    image = LoadImage(reader=DicomSeriesReader(resample=True), image_only=True)(folder)
    assert image.shape == (14, 12, 7)


def test_suffix_check_accepts_folders_not_nifti(series, tmp_path):
    folder, _ = series
    reader = DicomSeriesReader()
    assert reader.verify_suffix(folder)
    assert not reader.verify_suffix(tmp_path / "x.nii.gz")


def test_a_loaded_series_collates_into_a_batch(series):
    """Absent tags (None in the loader's metadata) are left out so MONAI's DataLoader can batch the volume."""
    from monai.data import DataLoader, Dataset

    folder, phantom = series
    dataset = Dataset([{"image": str(folder)}], transform=LoadImaged(keys="image", reader=DicomSeriesReader()))
    batch = next(iter(DataLoader(dataset, batch_size=1)))
    assert tuple(batch["image"].shape) == (1, *phantom.shape)
    assert all(value is not None for value in batch["image"].meta.values())
