"""Classification cases from .npz archives, datalist JSON files and folders (NIfTI and DICOM)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.transforms import ScaleIntensity

from monai_ext.data import DatasetError, load_cases, load_datalist, load_npz_split, npz_splits, preprocess_array
from monai_ext.io.dicom.write import write_dicom_series
from tests.conftest import require_data


def _npz(path: Path, n: int = 5, size: int = 8, **extra: np.ndarray) -> Path:
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": (rng.random((n, size, size, size)) > 0.5).astype(np.uint8) * 255,
        "train_labels": (np.arange(n) % 2).reshape(n, 1).astype(np.uint8),
        "val_images": (rng.random((2, size, size, size)) > 0.5).astype(np.uint8) * 255,
        "val_labels": np.array([[0], [1]], dtype=np.uint8),
    }
    arrays.update(extra)
    np.savez(path, **arrays)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_npz_cases_are_scaled_resized_and_labelled(tmp_path: Path) -> None:
    archive = _npz(tmp_path / "d.npz")
    before = _sha(archive)
    cases = load_cases(archive, "train", spatial_size=(4, 4, 4), limit=3)
    assert [c["label"] for c in cases] == [0, 1, 0]
    assert [c["case_id"] for c in cases] == ["train_00000", "train_00001", "train_00002"]
    for case in cases:
        assert case["image"].shape == (1, 4, 4, 4)
        assert case["image"].dtype == torch.float32
        assert float(case["image"].min()) == 0.0
        assert float(case["image"].max()) == 1.0
    assert npz_splits(archive) == ["train", "val"]
    assert _sha(archive) == before


def test_npz_cases_keep_values_at_native_size(tmp_path: Path) -> None:
    archive = _npz(tmp_path / "d.npz")
    images, _ = load_npz_split(archive, "val")
    cases = load_cases(archive, "val", spatial_size=(8, 8, 8))
    assert torch.equal(cases[1]["image"][0], torch.from_numpy(images[1] / 255.0).float())


def test_preprocess_matches_monai_scale_intensity() -> None:
    volume = torch.randn(1, 6, 7, 8) * 100 - 20
    expected = torch.as_tensor(ScaleIntensity(minv=0.0, maxv=1.0)(volume))
    assert torch.allclose(preprocess_array(volume, spatial_size=(6, 7, 8)), expected, atol=1e-6)
    assert float(preprocess_array(torch.full((1, 3, 3, 3), 7.0), spatial_size=(3, 3, 3)).abs().max()) == 0.0


@pytest.mark.parametrize(
    ("volume", "message"),
    [(torch.zeros(4, 4, 4), "(C, D, H, W)"), (torch.full((1, 2, 2, 2), float("nan")), "NaN")],
)
def test_preprocess_refuses_bad_volumes(volume: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        preprocess_array(volume, spatial_size=(2, 2, 2))


def test_npz_errors_name_file_and_problem(tmp_path: Path) -> None:
    archive = _npz(tmp_path / "d.npz")
    with pytest.raises(DatasetError, match=r"no split 'test'.*\['train', 'val'\]") as info:
        load_cases(archive, "test", spatial_size=(4, 4, 4))
    assert info.value.path == archive
    with pytest.raises(DatasetError, match="file not found"):
        load_npz_split(tmp_path / "missing.npz", "train")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match=r"not a readable \.npz"):
        load_npz_split(junk, "train")
    bad = _npz(tmp_path / "bad.npz", train_labels=np.array([[0], [-1], [0], [1], [0]]))
    with pytest.raises(DatasetError, match="non-negative"):
        load_npz_split(bad, "train")
    nan = _npz(tmp_path / "nan.npz", train_images=np.full((5, 2, 2, 2), np.nan))
    with pytest.raises(DatasetError, match="finite"):
        load_npz_split(nan, "train")
    short = _npz(tmp_path / "short.npz", train_labels=np.zeros((4, 1)))
    with pytest.raises(DatasetError, match="N=5"):
        load_npz_split(short, "train")


def _nifti(path: Path, shape: tuple[int, int, int] = (10, 9, 8)) -> Path:
    data = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    nib.save(nib.Nifti1Image(data, np.diag([2.0, 2.0, 3.0, 1.0])), path)
    return path


def test_datalist_with_nifti_and_dicom(tmp_path: Path) -> None:
    _nifti(tmp_path / "a.nii.gz")
    volume = np.arange(6 * 5 * 4, dtype=np.int16).reshape(6, 5, 4)
    write_dicom_series(volume, np.diag([1.0, 1.0, 2.0, 1.0]), tmp_path / "dicom_case")
    datalist = tmp_path / "list.json"
    datalist.write_text(
        json.dumps(
            {
                "training": [{"image": "a.nii.gz", "label": 1}, {"image": "dicom_case", "label": 0}],
                "validation": [{"image": str(tmp_path / "a.nii.gz")}],
            }
        )
    )
    train = load_cases(datalist, "train", spatial_size=(4, 4, 4))
    assert [(c["case_id"], c["label"]) for c in train] == [("a", 1), ("dicom_case", 0)]
    assert all(c["image"].shape == (1, 4, 4, 4) and float(c["image"].max()) == 1.0 for c in train)
    assert load_cases(datalist, "validation", spatial_size=(4, 4, 4))[0]["label"] == -1


def test_datalist_errors(tmp_path: Path) -> None:
    datalist = tmp_path / "list.json"
    datalist.write_text(json.dumps({"training": [{"image": "nowhere.nii.gz", "label": 0}]}))
    with pytest.raises(DatasetError, match=r"entry 0: image .*nowhere.nii.gz does not exist"):
        load_datalist(datalist, "train")
    _nifti(tmp_path / "a.nii.gz")
    datalist.write_text(json.dumps({"training": [{"image": "a.nii.gz", "label": "yes"}]}))
    with pytest.raises(DatasetError, match="label must be a non-negative integer"):
        load_datalist(datalist, "train")
    with pytest.raises(DatasetError, match=r"no split 'test'; has \['training'\]"):
        load_datalist(datalist, "test")
    datalist.write_text("{broken")
    with pytest.raises(DatasetError, match="not a readable JSON"):
        load_datalist(datalist, "train")


def test_folder_of_unlabelled_cases(tmp_path: Path) -> None:
    _nifti(tmp_path / "b.nii.gz")
    _nifti(tmp_path / "a.nii")
    (tmp_path / "notes.txt").write_text("ignored")
    cases = load_cases(tmp_path, "any", spatial_size=(5, 5, 5))
    assert [c["case_id"] for c in cases] == ["a.nii", "b.nii.gz"]
    assert {c["label"] for c in cases} == {-1}


def test_unreadable_file_in_folder_names_it(tmp_path: Path) -> None:
    (tmp_path / "broken.nii.gz").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match=r"broken\.nii\.gz"):
        load_cases(tmp_path, "any", spatial_size=(4, 4, 4))


@pytest.mark.realdata
def test_real_adrenal_val_split() -> None:
    archive = require_data("medmnist3d/adrenalmnist3d_64_trainval.npz")
    cases = load_cases(archive, "val", spatial_size=(64, 64, 64))
    labels = [c["label"] for c in cases]
    assert (len(labels), labels.count(0), labels.count(1)) == (98, 76, 22)
    assert {float(c["image"].max()) for c in cases} == {1.0}
