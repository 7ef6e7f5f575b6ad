"""The classification bundle run the model-zoo way: verify, train (resume, MLflow, torchrun), evaluate, infer, export.

Smoke runs use a small slice of the real data and write only into temporary folders: the shipped weights
are never touched.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser

from monai_ext.bundle import SCHEMA_PATH
from monai_ext.engines import sha256_of
from tests.bundles.conftest import BUNDLES, kill_then_resume, run_bundle, train_args

BUNDLE = BUNDLES / "adrenal_hyperplasia_classifier_3d"
META = json.loads((BUNDLE / "configs" / "metadata.json").read_text())
TRAIN = "configs/train.json"

pytestmark = pytest.mark.slow


def _train_args(data: Path, run: Path, *extra: str) -> tuple[str, ...]:
    return train_args(data, run, "--batch_size", "8", *extra)


def test_bundle_layout_and_shipped_weights() -> None:
    for name in (
        "configs/train.json",
        "configs/evaluate.json",
        "configs/inference.json",
        "configs/multi_gpu_train.json",
        "configs/logging.conf",
        "configs/metadata.json",
        "docs/README.md",
        "LICENSE",
        "models/model.pt",
    ):
        assert (BUNDLE / name).is_file(), name
    weights = BUNDLE / "models" / "model.pt"
    digest, name = (BUNDLE / "models" / "model.pt.sha256").read_text().split()
    assert (digest, name) == (sha256_of(weights), "model.pt")
    assert weights.stat().st_size < 25 * 2**20
    state = torch.load(weights, map_location="cpu", weights_only=True)
    parser = ConfigParser(ConfigParser.load_config_file(BUNDLE / "configs" / "inference.json"))
    net = parser.get_parsed_content("network_def")
    net.load_state_dict(state)
    assert "CC BY 4.0" in META["license"] and "MedMNIST v2" in META["references"][0]


def test_verify_metadata_offline_and_a_broken_copy_fails(tmp_path: Path) -> None:
    out = run_bundle(BUNDLE, "verify_metadata", "--meta_file", "configs/metadata.json", "--filepath", str(SCHEMA_PATH))
    assert "metadata is verified with no error" in out
    broken = dict(META)
    del broken["network_data_format"]
    (tmp_path / "metadata.json").write_text(json.dumps(broken))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "monai.bundle",
            "verify_metadata",
            "--meta_file",
            str(tmp_path / "metadata.json"),
            "--filepath",
            str(SCHEMA_PATH),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "network_data_format" in result.stdout + result.stderr


def test_network_input_and_output_match_metadata() -> None:
    """What ``verify_net_in_out`` checks, for the train and the inference network definitions."""
    fmt = META["network_data_format"]
    spec_in, spec_out = fmt["inputs"]["image"], fmt["outputs"]["pred"]
    for config in ("train.json", "inference.json"):
        parser = ConfigParser(ConfigParser.load_config_file(BUNDLE / "configs" / config))
        net = parser.get_parsed_content("network_def").eval()
        x = torch.rand(2, spec_in["num_channels"], *spec_in["spatial_shape"], dtype=getattr(torch, spec_in["dtype"]))
        with torch.no_grad():
            probs = net(x).softmax(1)
        assert probs.shape == (2, spec_out["num_channels"])
        assert probs.dtype == getattr(torch, spec_out["dtype"])
        assert float(probs.min()) >= spec_out["value_range"][0] and float(probs.max()) <= spec_out["value_range"][1]
        assert parser["class_names"] == [spec_out["channel_def"][str(i)] for i in range(spec_out["num_channels"])]


def test_train_resume_evaluate_and_infer(small_adrenal_npz: Path, tmp_path: Path) -> None:
    # start a 2-epoch run, kill it (SIGKILL) as soon as epoch 1 is checkpointed, then resume it
    args = _train_args(small_adrenal_npz, tmp_path, "--max_epochs", "2")
    kill_then_resume(BUNDLE, args, tmp_path)
    model = tmp_path / "ckpt" / "model.pt"

    report = tmp_path / "report"
    run_bundle(
        BUNDLE,
        "run",
        "--config_file",
        "['configs/train.json','configs/evaluate.json']",
        "--bundle_root",
        ".",
        "--dataset_path",
        str(small_adrenal_npz),
        "--eval_split",
        "val",
        "--output_dir",
        str(report),
        "--ckpt_path",
        str(model),
        "--explain_cases",
        "2",
    )
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["n"] == 16 and metrics["split"] == "val"
    ids = [r["case_id"] for r in csv.DictReader((report / "cases.csv").open())]
    assert ids[:2] == ["val_00000", "val_00001"]
    assert 0.0 <= metrics["auc"] <= 1.0 and 0.0 <= metrics["acc"] <= 1.0
    assert len(list(csv.DictReader((report / "cases.csv").open()))) == 16
    assert (report / "roc.png").is_file() and (report / "confusion.png").is_file()
    explained = json.loads((report / "explanations.json").read_text())
    assert explained["cases"] == 2 and len(explained["per_case"]) == 2
    assert 0.0 <= explained["deletion_auc_gradcam_median"] <= 1.5 and 0.0 <= explained["gradcam_beats_random"] <= 1.0

    images = tmp_path / "nifti"
    images.mkdir()
    with np.load(small_adrenal_npz) as archive:
        for i in range(2):
            nib.save(nib.Nifti1Image(archive["val_images"][i], np.eye(4)), images / f"case{i}.nii.gz")
    predictions = tmp_path / "predictions"
    run_bundle(
        BUNDLE,
        "run",
        "--config_file",
        "configs/inference.json",
        "--bundle_root",
        ".",
        "--dataset_path",
        str(images),
        "--output_dir",
        str(predictions),
        "--ckpt_path",
        str(model),
    )
    rows = list(csv.DictReader((predictions / "cases.csv").open()))
    assert [r["case_id"] for r in rows] == ["case0.nii.gz", "case1.nii.gz"]
    assert all(abs(float(r["prob_normal"]) + float(r["prob_hyperplasia"]) - 1) < 1e-5 for r in rows)


def test_mlflow_tracking_uses_a_local_file_store(small_adrenal_npz: Path, tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    run_bundle(BUNDLE, *_train_args(small_adrenal_npz, tmp_path, "--max_epochs", "1", "--tracking", "mlflow"))
    import mlflow

    store = tmp_path / "out" / "mlruns.db"
    assert store.is_file()
    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{store}")
    runs = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
    assert runs, f"no MLflow run in {store}"
    assert client.get_metric_history(runs[0].info.run_id, "train_loss"), "train_loss was not logged"


def test_multi_gpu_train_with_torchrun_on_cpu(small_adrenal_npz: Path, tmp_path: Path) -> None:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    assert torchrun, "torchrun is installed with torch"
    args = list(_train_args(small_adrenal_npz, tmp_path, "--max_epochs", "1"))
    args[2] = "['configs/train.json','configs/multi_gpu_train.json']"
    command = [torchrun, "--standalone", "--nproc_per_node=2", "-m", "monai.bundle", *args]
    result = subprocess.run(command, cwd=BUNDLE, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    assert (tmp_path / "ckpt" / "model.pt").is_file()
    assert torch.load(tmp_path / "out" / "checkpoints" / "last.pt", weights_only=True)["engine"]["epoch"] == 1


def test_torchscript_export_with_monai_ckpt_export(tmp_path: Path) -> None:
    run_bundle(
        BUNDLE,
        "ckpt_export",
        "network_def",
        "--filepath",
        str(tmp_path / "model.ts"),
        "--ckpt_file",
        "models/model.pt",
        "--meta_file",
        "configs/metadata.json",
        "--config_file",
        "configs/inference.json",
    )
    extra = {"metadata.json": ""}
    module = torch.jit.load(str(tmp_path / "model.ts"), _extra_files=extra)
    assert json.loads(extra["metadata.json"])["version"] == META["version"]
    spec = META["network_data_format"]["inputs"]["image"]
    assert module(torch.zeros(1, spec["num_channels"], *spec["spatial_shape"])).shape == (1, 2)


def test_monai_ext_bundle_export_keeps_metadata_in_onnx(tmp_path: Path) -> None:
    import onnxruntime as ort

    from monai_ext.bundle import read_onnx_metadata
    from monai_ext.cli.main import main

    assert main(["bundle", "export", str(BUNDLE), "--out", str(tmp_path)]) == 0
    assert read_onnx_metadata(tmp_path / "model.onnx") == META
    spec = META["network_data_format"]["inputs"]["image"]
    x = torch.rand(2, spec["num_channels"], *spec["spatial_shape"])
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    module = torch.jit.load(str(tmp_path / "model.ts"))
    with torch.no_grad():
        expected = module(x)
    assert np.abs(session.run(None, {"image": x.numpy()})[0] - expected.numpy()).max() < 1e-4


def test_export_refuses_weights_that_do_not_match_their_manifest(tmp_path: Path) -> None:
    from monai_ext.bundle import BundleExportError, export_bundle

    copy = tmp_path / "bundle"
    shutil.copytree(BUNDLE, copy, ignore=shutil.ignore_patterns("runs", "eval", "inference"))
    weights = copy / "models" / "model.pt"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the tensor data
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleExportError, match=r"model.pt: sha256 .* differs"):
        export_bundle(copy, out_dir=tmp_path / "out")


def test_transfer_learning_two_stages_from_the_shipped_weights(small_adrenal_npz: Path, tmp_path: Path) -> None:
    """``pretrained_checkpoint`` + ``freeze_backbone``: epoch 1 trains the head only, epoch 2 everything."""
    shipped = BUNDLE / "models" / "model.pt"
    out = run_bundle(
        BUNDLE,
        *_train_args(small_adrenal_npz, tmp_path, "--max_epochs", "2"),
        "--pretrained_checkpoint",
        str(shipped),
        "--freeze_backbone",
        "true",
        "--freeze_epochs",
        "1",
    )
    assert "backbone unfrozen, lr scaled by 0.1" in out
    state = torch.load(tmp_path / "out" / "checkpoints" / "last.pt", weights_only=True)["network"]
    start = torch.load(shipped, weights_only=True)
    convs = [k for k in start if k.startswith("backbone.") and k.endswith("conv.weight")]
    changed = [k for k in convs if not torch.equal(state[k], start[k])]
    assert changed, "the backbone must be fine-tuned in the second stage"


@pytest.mark.parametrize(("size", "strides", "max_distance"), [(64, [2, 2, 2, 2], 6.0), (28, [1, 2, 2, 2], 2.625)])
def test_the_recipe_follows_the_cube_size(size: int, strides: list[int], max_distance: float) -> None:
    """``--spatial_size [28,28,28]`` alone adapts the stem stride and the distance channel (6 mm) to 64/28 mm voxels."""
    parser = ConfigParser(ConfigParser.load_config_file(BUNDLE / "configs" / "train.json"))
    parser["spatial_size"] = [size] * 3
    assert parser.get_parsed_content("network_def#strides") == strides
    assert parser.get_parsed_content("max_distance") == pytest.approx(max_distance)
    assert parser.get_parsed_content("train#augment#scanner#voxel_size_mm") == pytest.approx(64 / size)
    net = parser.get_parsed_content("network_def").eval()
    with torch.no_grad():
        features = net.backbone(torch.zeros(1, 2, size, size, size))
    assert features.shape[2:] == (4, 4, 4)  # the last map is 4^3 at both sizes
