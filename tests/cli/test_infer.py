"""``monai-ext sample`` and ``monai-ext infer``: the main job end to end, DICOM in, NIfTI + JSON + PNG out."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from monai_ext.cli.main import main
from monai_ext.io.dicom.load import load_dicom_series
from tests.bundle.conftest import CLASSIFIER, ellipsoid_mask, oblique_affine


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    assert main(["sample", "--out", str(out)]) == 0
    return out


def test_sample_is_reproducible_and_a_real_series(sample: Path, tmp_path: Path) -> None:
    assert main(["sample", "--out", str(tmp_path)]) == 0
    a = nib.load(sample / "synthetic_adrenal.nii.gz")
    b = nib.load(tmp_path / "synthetic_adrenal.nii.gz")
    np.testing.assert_array_equal(a.get_fdata(), b.get_fdata())
    volume = load_dicom_series(sample / "dicom")
    np.testing.assert_allclose(volume.affine, a.affine, atol=1e-4)
    np.testing.assert_array_equal(volume.array, a.get_fdata())
    assert set(np.unique(volume.array)) == {0.0, 100.0} and (volume.array > 0).sum() > 100


def test_infer_on_a_dicom_folder(sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "infer"
    assert main(["infer", str(sample / "dicom"), "--bundle", str(CLASSIFIER), "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["class_names"] == ["normal", "hyperplasia"]
    assert sum(result["probabilities"]) == pytest.approx(1.0, abs=1e-5)
    assert result["bundle"]["weights_verified"] and not result["bundle"]["trusted"]
    assert result["heatmap_method"] == "gradcam" and result["device"] == "cpu"
    heatmap = nib.load(result["maps"]["heatmap"])
    reference = nib.load(sample / "synthetic_adrenal.nii.gz")
    assert heatmap.shape == reference.shape
    np.testing.assert_allclose(heatmap.affine, reference.affine, atol=1e-4)
    values = heatmap.get_fdata()
    assert values.min() >= 0.0 and values.max() <= 1.0 and values.max() > 0.9
    assert Path(result["montages"]["heatmap"]).stat().st_size > 10_000
    assert "predicted:" in capsys.readouterr().out


@pytest.mark.parametrize("method", ["gradcampp", "occlusion", "smoothgrad"])
def test_other_heatmap_methods(sample: Path, tmp_path: Path, method: str) -> None:
    out = tmp_path / method
    args = ["infer", str(sample / "synthetic_adrenal.nii.gz"), "--bundle", str(CLASSIFIER), "--out", str(out)]
    assert main([*args, "--heatmap", method, "--no-montage"]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["heatmap_method"] == method and not result["montages"]
    assert nib.load(result["maps"]["heatmap"]).get_fdata().max() > 0.2  # voxel-level maps lose peaks at 64->32


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


def test_feature_maps_of_a_chosen_layer(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "features"
    args = ["infer", str(sample / "synthetic_adrenal.nii.gz"), "--bundle", str(CLASSIFIER), "--out", str(out)]
    assert main([*args, "--feature-maps", "backbone.stages.1"]) == 0
    result = json.loads((out / "result.json").read_text())
    features = nib.load(result["maps"]["features"])
    reference = nib.load(sample / "synthetic_adrenal.nii.gz")
    assert features.shape == (*reference.shape, 32)  # (I, J, K, C): the stage's 32 channels on the input grid
    np.testing.assert_allclose(features.affine, reference.affine, atol=1e-4)
    assert Path(result["montages"]["features"]).stat().st_size > 10_000
