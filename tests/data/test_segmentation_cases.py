"""Segmentation datalists: an MSD folder with its seeded split, a datalist JSON, and the errors users meet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monai_ext.data import DatasetError, image_inputs, is_dicom_input, segmentation_cases, split_cases


def _msd_folder(root: Path, n: int) -> Path:
    for sub in ("imagesTr", "labelsTr"):
        (root / sub).mkdir(parents=True)
        for i in range(n):
            (root / sub / f"case_{i:03d}.nii.gz").write_bytes(b"")
    (root / "imagesTr" / "._case_000.nii.gz").write_bytes(b"")  # macOS resource fork: ignored
    return root


def test_split_is_disjoint_complete_and_independent_of_order() -> None:
    ids = [f"hippocampus_{i:03d}" for i in range(200)]
    split = split_cases(ids, test_cases=30, val_cases=20, seed=0)
    assert [len(split[k]) for k in ("train", "val", "test")] == [150, 20, 30]
    assert set(split["train"]) | set(split["val"]) | set(split["test"]) == set(ids)
    assert not set(split["train"]) & set(split["test"]) and not set(split["val"]) & set(split["test"])
    assert split_cases(list(reversed(ids)), test_cases=30, val_cases=20, seed=0) == split
    assert split_cases(ids, test_cases=30, val_cases=20, seed=1)["test"] != split["test"]


def test_split_refuses_too_few_cases() -> None:
    with pytest.raises(ValueError, match="cannot give"):
        split_cases(["a", "b", "c"], test_cases=2, val_cases=1)


def test_folder_splits_and_all(tmp_path: Path) -> None:
    folder = _msd_folder(tmp_path / "msd", 12)
    parts = {s: segmentation_cases(folder, s, test_cases=3, val_cases=2) for s in ("train", "val", "test", "all")}
    assert [len(parts[s]) for s in ("train", "val", "test", "all")] == [7, 2, 3, 12]
    case = parts["test"][0]
    assert Path(case["image"]).parent.name == "imagesTr" and Path(case["label"]).parent.name == "labelsTr"
    assert case["case_id"] == Path(case["image"]).name.removesuffix(".nii.gz")
    assert len(segmentation_cases(folder, "train", test_cases=3, val_cases=2, limit=4)) == 4
    assert segmentation_cases(folder, "validation", test_cases=3, val_cases=2) == parts["val"]


def test_missing_dataset_names_the_override(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="--dataset_path"):
        segmentation_cases(tmp_path / "nowhere", "train")


def test_folder_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="imagesTr"):
        segmentation_cases(tmp_path / "empty", "train")
    folder = _msd_folder(tmp_path / "msd", 6)
    (folder / "labelsTr" / "case_002.nii.gz").unlink()
    with pytest.raises(DatasetError, match=r"label of case_002\.nii\.gz is missing"):
        segmentation_cases(folder, "all")
    with pytest.raises(DatasetError, match="unknown split 'tset'"):
        segmentation_cases(_msd_folder(tmp_path / "ok", 6), "tset", test_cases=1, val_cases=1)


def test_datalist_json(tmp_path: Path) -> None:
    folder = _msd_folder(tmp_path / "msd", 3)
    entries = [
        {"image": f"msd/imagesTr/case_{i:03d}.nii.gz", "label": f"msd/labelsTr/case_{i:03d}.nii.gz"} for i in range(3)
    ]
    datalist = tmp_path / "datalist.json"
    datalist.write_text(json.dumps({"training": entries[:2], "test": entries[2:]}))
    assert [c["case_id"] for c in segmentation_cases(datalist, "train")] == ["case_000", "case_001"]
    assert len(segmentation_cases(datalist, "all")) == 3
    with pytest.raises(DatasetError, match="no split 'val'"):
        segmentation_cases(datalist, "val")
    datalist.write_text(json.dumps({"test": [{"image": entries[0]["image"]}]}))
    with pytest.raises(DatasetError, match="needs 'image' and 'label'"):
        segmentation_cases(datalist, "test")
    datalist.write_text(json.dumps({"test": [{"image": "gone.nii.gz", "label": entries[0]["label"]}]}))
    with pytest.raises(DatasetError, match="does not exist"):
        segmentation_cases(datalist, "test")
    assert folder.is_dir()


def test_image_inputs(tmp_path: Path) -> None:
    nifti = tmp_path / "nifti"
    nifti.mkdir()
    for name in ("b.nii.gz", "a.nii", "notes.txt"):
        (nifti / name).write_bytes(b"")
    assert [Path(e["image"]).name for e in image_inputs(nifti)] == ["a.nii", "b.nii.gz"]
    assert not is_dicom_input(nifti)
    dicom = tmp_path / "dicom"
    dicom.mkdir()
    assert is_dicom_input(dicom) and image_inputs(dicom) == [{"image": str(dicom.resolve())}]
    assert image_inputs(nifti / "a.nii") == [{"image": str((nifti / "a.nii").resolve())}]
    with pytest.raises(DatasetError, match="--input_path"):
        image_inputs(tmp_path / "missing")
    with pytest.raises(DatasetError, match="not a NIfTI file"):
        image_inputs(nifti / "notes.txt")
