"""``monai-ext sample`` and ``monai-ext infer``: the main job end to end, a CT segmentation in, NIfTI + JSON out."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from monai_ext.bundle.per_label import load_label_map
from monai_ext.cli.main import main
from monai_ext.io.dicom.load import load_dicom_series
from tests.bundle.conftest import AUTOENCODER, CLASSIFIER, ellipsoid_mask, oblique_affine


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    assert main(["sample", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def gland_mask(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small binary mask NIfTI on an oblique anisotropic grid (fast inputs for the single-volume paths)."""
    path = tmp_path_factory.mktemp("mask") / "mask.nii.gz"
    nib.save(nib.Nifti1Image(ellipsoid_mask((40, 48, 30), (9.0, 14.0, 7.0)), oblique_affine((1.2, 0.9, 1.6))), path)
    return path


def near_mask(mask: np.ndarray, spacing: tuple[float, ...], mm: float = 5.0) -> np.ndarray:
    """Voxels within ``mm`` of the mask (Euclidean, in mm; the grid's axes are orthogonal)."""
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(mask.transpose(2, 1, 0).astype(np.uint8))
    image.SetSpacing(tuple(float(s) for s in spacing))
    distance = sitk.SignedMaurerDistanceMap(image, insideIsPositive=False, squaredDistance=False, useImageSpacing=True)
    return sitk.GetArrayFromImage(distance).transpose(2, 1, 0) <= mm


def test_sample_is_reproducible_and_a_real_series(sample: Path, tmp_path: Path) -> None:
    assert main(["sample", "--out", str(tmp_path)]) == 0
    ct_a, ct_b = nib.load(sample / "ct.nii.gz"), nib.load(tmp_path / "ct.nii.gz")
    np.testing.assert_array_equal(ct_a.get_fdata(), ct_b.get_fdata())
    labels = load_label_map(sample / "adrenal_labels.nrrd")
    assert labels.meta["label_names"] == {"adrenal_gland_right": 1, "adrenal_gland_left": 2}
    np.testing.assert_allclose(np.asarray(labels.affine), ct_a.affine, atol=1e-4)
    np.testing.assert_array_equal(labels.as_tensor()[0].numpy(), load_label_map(tmp_path / "adrenal_labels.nrrd")[0])
    volume = load_dicom_series(sample / "ct_dicom")
    np.testing.assert_allclose(volume.affine, ct_a.affine, atol=1e-4)
    np.testing.assert_array_equal(volume.array, ct_a.get_fdata())
    assert ct_a.shape == (300, 300, 120) and np.allclose(ct_a.header.get_zooms(), (0.7, 0.7, 2.5), atol=1e-4)
    glands = labels.as_tensor()[0].numpy()
    for value in (1, 2):  # a gland is soft tissue in fat, about 2-8 mL like real adrenal glands
        hu = volume.array[glands == value]
        assert 2000 < hu.size * 0.7 * 0.7 * 2.5 < 15000 and abs(float(np.median(hu)) - 25) < 15


def test_infer_on_the_sample_segmentation_gives_one_result_per_gland(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "infer"
    labels_path = sample / "adrenal_labels.nrrd"
    assert main(["infer", str(labels_path), "--bundle", str(CLASSIFIER), "--out", str(out), "--all-labels"]) == 0
    index = json.loads((out / "labels.json").read_text())
    assert [(e["value"], e["name"]) for e in index["labels"]] == [(1, "adrenal_gland_right"), (2, "adrenal_gland_left")]
    ct = nib.load(sample / "ct.nii.gz")
    glands = load_label_map(labels_path).as_tensor()[0].numpy()
    for entry in index["labels"]:
        result = json.loads((out / entry["name"] / "result.json").read_text())
        assert result["class_names"] == ["normal", "hyperplasia"] and result["bundle"]["weights_verified"]
        assert sum(result["probabilities"]) == pytest.approx(1.0, abs=1e-5)
        heatmap = nib.load(result["maps"]["heatmap"])
        assert heatmap.shape == ct.shape
        np.testing.assert_allclose(heatmap.affine, ct.affine, atol=1e-4)
        values = heatmap.get_fdata()
        near = near_mask(glands == entry["value"], ct.header.get_zooms())
        assert values[near].sum() / values.sum() >= 0.7  # the map lies on this gland
        assert near[np.unravel_index(np.argmax(values), values.shape)]  # and so does its hottest voxel
        assert not near_mask(glands == 3 - entry["value"], ct.header.get_zooms())[values > 0.05].any()
        assert Path(result["montages"]["heatmap"]).stat().st_size > 10_000
    assert capsys.readouterr().out.count("predicted:") == 2


def test_infer_on_one_gland_by_name_writes_into_out(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "left"
    args = ["infer", str(sample / "adrenal_labels.nrrd"), "--bundle", str(AUTOENCODER), "--out", str(out)]
    assert main([*args, "--label", "adrenal_gland_left", "--no-montage"]) == 0
    result = json.loads((out / "result.json").read_text())
    assert "[label 2: adrenal_gland_left]" in result["input"] and "anomaly_score" in result["scalars"]
    assert nib.load(result["maps"]["anomaly_map"]).shape == (300, 300, 120)
    assert main([*args, "--label", "spleen"]) == 2  # an unknown name: a clear error, not a traceback


def test_infer_on_a_dicom_seg_with_its_ct_series(sample: Path, tmp_path: Path) -> None:
    from tests.io.test_dicom_seg import write_seg

    volume = load_dicom_series(sample / "ct_dicom")
    glands = load_label_map(sample / "adrenal_labels.nrrd").as_tensor()[0].numpy().astype(np.uint8)
    seg = write_seg([Path(f) for f in volume.meta["source_files"]], glands, tmp_path / "seg.dcm",
                    {1: "adrenal_gland_right", 2: "adrenal_gland_left"})  # fmt: skip
    out = tmp_path / "seg_out"
    args = ["infer", str(seg), "--reference", str(sample / "ct_dicom"), "--bundle", str(CLASSIFIER), "--out", str(out)]
    assert main([*args, "--label", "adrenal_gland_right", "--no-montage"]) == 0
    from_seg = json.loads((out / "result.json").read_text())
    nrrd_out = tmp_path / "nrrd_out"
    nrrd_args = ["infer", str(sample / "adrenal_labels.nrrd"), "--bundle", str(CLASSIFIER), "--out", str(nrrd_out)]
    assert main([*nrrd_args, "--label", "1", "--no-montage"]) == 0
    from_nrrd = json.loads((nrrd_out / "result.json").read_text())
    assert from_seg["probabilities"] == pytest.approx(from_nrrd["probabilities"], abs=1e-6)
    np.testing.assert_allclose(nib.load(from_seg["maps"]["heatmap"]).affine, volume.affine, atol=1e-4)


def test_background_puts_the_ct_under_the_heatmap_and_a_dicom_seg_defaults_to_its_reference(
    sample: Path, tmp_path: Path
) -> None:
    from matplotlib.image import imread

    from tests.io.test_dicom_seg import write_seg

    ct_dicom = sample / "ct_dicom"
    one_gland = ["--label", "adrenal_gland_left", "--bundle", str(CLASSIFIER)]
    out = tmp_path / "on_ct"
    nrrd = sample / "adrenal_labels.nrrd"
    assert main(["infer", str(nrrd), *one_gland, "--out", str(out), "--background", str(ct_dicom)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["background"] == {
        "path": str(ct_dicom.resolve()),
        "modality": "CT",
        "resampled": False,
        "window": [-160.0, 240.0],  # the soft-tissue window W400/L40
    }
    png = imread(result["montages"]["heatmap"])[..., :3]
    neutral = png.max(axis=2) - png.min(axis=2) < 0.02
    soft_tissue = neutral & (png[..., 0] > 0.35) & (png[..., 0] < 0.65)  # 0-100 HU, none in a 0/1 mask's montage
    fat = neutral & (png[..., 0] > 0.05) & (png[..., 0] < 0.25)  # about -140 to -60 HU
    cyan = (png[..., 0] < 0.35) & (png[..., 1] > 0.75) & (png[..., 2] > 0.75)
    assert soft_tissue.sum() > 5_000 and fat.sum() > 5_000 and cyan.sum() > 300
    volume = load_dicom_series(ct_dicom)
    glands = load_label_map(nrrd).as_tensor()[0].numpy().astype(np.uint8)
    seg = write_seg([Path(f) for f in volume.meta["source_files"]], glands, tmp_path / "seg.dcm",
                    {1: "adrenal_gland_right", 2: "adrenal_gland_left"})  # fmt: skip
    seg_out = tmp_path / "seg_on_ct"
    assert main(["infer", str(seg), "--reference", str(ct_dicom), *one_gland, "--out", str(seg_out)]) == 0
    from_seg = json.loads((seg_out / "result.json").read_text())
    assert from_seg["background"] == result["background"]  # the referenced CT, without --background
    assert float(np.abs(imread(from_seg["montages"]["heatmap"])[..., :3] - png).mean()) < 0.005


def test_a_background_elsewhere_in_space_is_refused_with_both_names(
    gland_mask: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    far = tmp_path / "other_scan.nii.gz"
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = [0.0, 0.0, 900.0]
    nib.save(nib.Nifti1Image(np.zeros((30, 30, 30), np.float32), affine), far)
    args = ["infer", str(gland_mask), "--bundle", str(CLASSIFIER), "--out", str(tmp_path / "o")]
    assert main([*args, "--background", str(far)]) == 2
    err = capsys.readouterr().err
    assert "BundleInputError" in err and str(far) in err and str(gland_mask) in err and "Traceback" not in err
    assert not (tmp_path / "o" / "result.json").exists()
    with pytest.raises(SystemExit, match="--background goes with one label map input, not a batch"):
        main([*args, "--background", str(far), "--batch"])  # refused before the bundle loads


@pytest.mark.parametrize("method", ["gradcampp", "occlusion", "smoothgrad"])
def test_other_heatmap_methods(gland_mask: Path, tmp_path: Path, method: str) -> None:
    out = tmp_path / method
    args = ["infer", str(gland_mask), "--bundle", str(CLASSIFIER), "--out", str(out)]
    assert main([*args, "--heatmap", method, "--no-montage"]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["heatmap_method"] == method and not result["montages"]
    assert nib.load(result["maps"]["heatmap"]).get_fdata().max() > 0.2  # voxel-level maps lose peaks at 1 mm -> 1.6


def test_batch_writes_one_row_per_input_and_survives_a_bad_file(tmp_path: Path) -> None:
    folder = tmp_path / "inputs"
    folder.mkdir()
    for index, radii in enumerate([(6.0, 9.0, 5.0), (9.0, 12.0, 7.0)]):
        nib.save(nib.Nifti1Image(ellipsoid_mask((32, 40, 24), radii), oblique_affine((1.0, 1.0, 1.5))),
                 folder / f"case{index}.nii.gz")  # fmt: skip
    (folder / "broken.nii.gz").write_bytes(b"not a nifti")
    out = tmp_path / "batch"
    assert main(["infer", str(folder), "--bundle", str(CLASSIFIER), "--out", str(out), "--no-montage"]) == 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [Path(r["input"]).name for r in rows] == ["broken.nii.gz", "case0.nii.gz", "case1.nii.gz"]
    assert rows[0]["status"] == "error" and "broken.nii.gz" in rows[0]["error"]
    for row in rows[1:]:
        assert row["status"] == "ok" and float(row["p_normal"]) + float(row["p_hyperplasia"]) == pytest.approx(1.0)
        assert Path(row["map_heatmap"]).is_file()


def test_refused_bundle_exits_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["infer", str(tmp_path), "--bundle", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])
    assert code == 2 and "BundleFileError" in capsys.readouterr().err


def test_feature_maps_of_a_chosen_layer(gland_mask: Path, tmp_path: Path) -> None:
    out = tmp_path / "features"
    args = ["infer", str(gland_mask), "--bundle", str(CLASSIFIER), "--out", str(out)]
    assert main([*args, "--feature-maps", "backbone.stages.1"]) == 0
    result = json.loads((out / "result.json").read_text())
    features = nib.load(result["maps"]["features"])
    reference = nib.load(gland_mask)
    assert features.shape == (*reference.shape, 32)  # (I, J, K, C): the stage's 32 channels on the input grid
    np.testing.assert_allclose(features.affine, reference.affine, atol=1e-4)
    assert Path(result["montages"]["features"]).stat().st_size > 10_000
