"""The hippocampus MR segmentation bundle run the model-zoo way: verify, train (kill and resume), evaluate, infer.

Smoke runs use 8 real MSD cases and write only into temporary folders: the shipped weights are never touched.
The shipped weights are checked on real data: the 8 cases (part of the training data, so only a sanity
check) and the two HippoCrop DICOM series, whose label maps must lie on the series' own grid.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser

from monai_ext.bundle import SCHEMA_PATH
from monai_ext.bundle.runner import run_bundle as run_request
from monai_ext.engines import sha256_of
from monai_ext.io import load_dicom_series
from tests.bundles.conftest import BUNDLES, kill_then_resume, run_bundle, train_args
from tests.conftest import require_data

BUNDLE = BUNDLES / "hippocampus_mr_segmentation_3d"
META = json.loads((BUNDLE / "configs" / "metadata.json").read_text())
HIPPO_CROP = "dicom/mr-brain-tcia-brain-tumor-progression/Study1/13_HCropVolume"

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


def _small_split(*extra: str) -> tuple[str, ...]:
    return ("--test_cases", "2", "--val_cases", "2", *extra)


def test_layout_weights_and_licence() -> None:
    for name in ("train", "evaluate", "inference", "multi_gpu_train", "metadata"):
        assert (BUNDLE / "configs" / f"{name}.json").is_file(), name
    assert (BUNDLE / "configs" / "logging.conf").is_file() and (BUNDLE / "docs" / "README.md").is_file()
    weights = BUNDLE / "models" / "model.pt"
    digest, name = (BUNDLE / "models" / "model.pt.sha256").read_text().split()
    assert (digest, name) == (sha256_of(weights), "model.pt")
    assert weights.stat().st_size < 25 * 2**20
    state = torch.load(weights, map_location="cpu", weights_only=True)
    for config in ("train.json", "inference.json"):
        parser = ConfigParser(ConfigParser.load_config_file(BUNDLE / "configs" / config))
        parser.get_parsed_content("network_def").load_state_dict(state)
    assert "CC BY-SA 4.0" in (BUNDLE / "LICENSE").read_text() and "CC BY-SA 4.0" in META["license"]
    pred = META["network_data_format"]["outputs"]["pred"]
    assert pred["type"] == "segmentation" and pred["labels"] == {"1": "anterior", "2": "posterior"}
    assert set(pred["label_colors"]) == {"1", "2"}


def test_verify_metadata_offline() -> None:
    out = run_bundle(BUNDLE, "verify_metadata", "--meta_file", "configs/metadata.json", "--filepath", str(SCHEMA_PATH))
    assert "metadata is verified with no error" in out


def test_default_dataset_is_inside_the_bundle_and_its_absence_names_the_override() -> None:
    parser = ConfigParser(ConfigParser.load_config_file(BUNDLE / "configs" / "train.json"))
    parser["bundle_root"] = str(BUNDLE)
    assert Path(parser.get_parsed_content("dataset_path")).resolve().is_relative_to(BUNDLE)
    command = [sys.executable, "-m", "monai.bundle", "run", "--config_file", "configs/train.json", "--bundle_root", "."]
    result = subprocess.run(command, cwd=BUNDLE, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode != 0
    assert "no dataset here; pass --dataset_path" in result.stdout + result.stderr


def test_train_kill_resume_then_evaluate(small_hippocampus: Path, tmp_path: Path) -> None:
    args = train_args(small_hippocampus, tmp_path, *_small_split("--max_epochs", "2", "--batch_size", "2"))
    kill_then_resume(BUNDLE, args, tmp_path)

    report = tmp_path / "report"
    evaluate = ("run", "--config_file", "['configs/train.json','configs/evaluate.json']", "--bundle_root", ".")
    run_bundle(
        BUNDLE,
        *evaluate,
        "--dataset_path",
        str(small_hippocampus),
        "--eval_split",
        "all",
        "--output_dir",
        str(report),
        "--ckpt_path",
        str(BUNDLE / "models" / "model.pt"),
    )
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["n_cases"] == 8 and metrics["split"] == "all"
    assert metrics["mean_dice"] > 0.8, metrics  # the shipped weights on real cases
    assert 0.0 < metrics["labels"]["posterior"]["hd95_mm"]["mean"] < 5.0
    rows = list(csv.DictReader((report / "cases.csv").open()))
    assert len(rows) == 8 and {"dice_anterior", "hd95_mm_posterior", "volume_mm3_anterior"} <= set(rows[0])
    assert (report / "overlays.png").read_bytes()[:4] == b"\x89PNG"


def test_inference_on_a_dicom_series_gives_labels_on_its_grid(tmp_path: Path) -> None:
    series = require_data(HIPPO_CROP)
    run_bundle(
        BUNDLE,
        "run",
        "--config_file",
        "configs/inference.json",
        "--bundle_root",
        ".",
        "--input_path",
        str(series),
        "--output_dir",
        str(tmp_path),
    )
    written = nib.load(tmp_path / "13_HCropVolume_seg.nii.gz")
    volume = load_dicom_series(series)
    assert written.shape == volume.array.shape and written.get_data_dtype() == np.uint8
    np.testing.assert_allclose(written.affine, volume.affine, atol=1e-4)
    counts = np.bincount(np.asarray(written.dataobj).ravel(), minlength=3)
    assert len(counts) == 3 and all(800 < c < 4000 for c in counts[1:]), counts  # mm^3 of each part (1 mm voxels)


def test_runner_segmentation_outputs_on_the_hippocrop_series(tmp_path: Path) -> None:
    series = require_data(HIPPO_CROP)
    result = run_request(
        {"bundlePath": str(BUNDLE), "inputPath": str(series), "outputDir": str(tmp_path), "explainSegmentation": True}
    )
    seg = result["segmentations"]["pred"]
    assert seg["kind"] == "labels" and [label["name"] for label in seg["labels"]] == ["anterior", "posterior"]
    volume = load_dicom_series(series)
    labels = nib.load(seg["path"])
    assert labels.shape == volume.array.shape
    np.testing.assert_allclose(labels.affine, volume.affine, atol=1e-4)
    for label in seg["labels"]:
        assert label["volume_mm3"] == pytest.approx(label["voxels"] * 1.0) and 800 < label["volume_mm3"] < 4000
        assert nib.load(label["probability_map"]).shape == volume.array.shape
    assert {"pred_prob_anterior", "pred_prob_posterior", "pred_explain"} <= set(result["heatmaps"])


def test_inference_preprocessing_matches_training(small_hippocampus: Path) -> None:
    """The inference config's preprocessing gives the network exactly the image validation gave it."""
    case = sorted((small_hippocampus / "imagesTr").iterdir())[0]
    label = small_hippocampus / "labelsTr" / case.name
    train = ConfigParser(ConfigParser.load_config_file(BUNDLE / "configs" / "train.json"))
    infer = ConfigParser(ConfigParser.load_config_file(BUNDLE / "configs" / "inference.json"))
    infer["input_path"] = str(case)
    validated = train.get_parsed_content("validate#preprocessing")({"image": str(case), "label": str(label)})
    prepared = infer.get_parsed_content("preprocessing")({"image": str(case)})
    torch.testing.assert_close(torch.as_tensor(prepared["image"]).as_subclass(torch.Tensor), validated["image"])
    for key in ("network_def", "patch_size", "pixdim", "lower_percentile", "upper_percentile", "label_names"):
        assert infer.config[key] == train.config[key], key


def test_left_right_flip_averaging_makes_the_answer_mirror_symmetric(small_hippocampus: Path) -> None:
    """inference.json averages each crop with its left-right mirror (``test_time_flips`` [0]): the untrusted runner
    builds it, and the logits of a mirrored crop are then exactly the mirrored logits; ``[]`` turns it off."""
    from monai_ext.bundle.runner import BundleRunner
    from monai_ext.inferers import FlipAveragingInferer

    case = sorted((small_hippocampus / "imagesTr").iterdir())[0]
    infer = ConfigParser(ConfigParser.load_config_file(BUNDLE / "configs" / "inference.json"))
    image = torch.as_tensor(infer.get_parsed_content("preprocessing")({"image": str(case)})["image"])[None]
    image = image.as_subclass(torch.Tensor)
    asymmetry = {}
    for flips in ([0], []):
        runner = BundleRunner(BUNDLE, device="cpu", overrides={"test_time_flips": flips})
        inferer = runner.adapted.inferer
        assert isinstance(inferer, FlipAveragingInferer) and inferer.spatial_axes == tuple(flips)
        with torch.no_grad():
            mirrored = inferer(torch.flip(image, [2]), runner.network)
            asymmetry[len(flips)] = float((mirrored - torch.flip(inferer(image, runner.network), [2])).abs().max())
    assert asymmetry[1] < 1e-4 < 1e-2 < asymmetry[0], asymmetry
