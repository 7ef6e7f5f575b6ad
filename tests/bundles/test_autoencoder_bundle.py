"""The autoencoder bundle run the model-zoo way: verify, train (kill and resume, MLflow, torchrun), evaluate,
infer into the input grid, export.

Smoke runs use a small slice of the real data and write only into temporary folders: the shipped weights
are never touched.
"""

from __future__ import annotations

import csv
import json
import os
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
from monai_ext.networks import Autoencoder
from tests.bundles.conftest import BUNDLES, kill_after_epoch, run_bundle, train_args

BUNDLE = BUNDLES / "adrenal_shape_autoencoder_3d"
META = json.loads((BUNDLE / "configs" / "metadata.json").read_text())
TRAIN = "configs/train.json"

pytestmark = pytest.mark.slow


def _train_args(data: Path, run: Path, *extra: str) -> tuple[str, ...]:
    return train_args(data, run, "--batch_size", "4", "--train_limit", "16", "--val_limit", "8", *extra)


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
    ):
        assert (BUNDLE / name).is_file(), name
    weights = BUNDLE / "models" / "model.pt"
    if not weights.is_file():
        pytest.fail("models/model.pt is missing: train the bundle and ship its weights")
    digest, name = (BUNDLE / "models" / "model.pt.sha256").read_text().split()
    assert (digest, name) == (sha256_of(weights), "model.pt")
    assert weights.stat().st_size < 25 * 2**20
    net = Autoencoder()
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))


def test_verify_metadata_offline() -> None:
    run_bundle(BUNDLE, "verify_metadata", "--meta_file", "configs/metadata.json", "--filepath", str(SCHEMA_PATH))


def test_network_input_and_outputs_match_metadata() -> None:
    """What ``verify_net_in_out`` checks (it only knows an output named ``pred``), for every declared output."""
    fmt = META["network_data_format"]
    spec_in, outputs = fmt["inputs"]["image"], fmt["outputs"]
    assert set(outputs) == {"reconstruction", "anomaly_map", "anomaly_score"}
    for config in ("train.json", "inference.json"):
        parser = ConfigParser(ConfigParser.load_config_file(BUNDLE / "configs" / config))
        net = parser.get_parsed_content("network_def").eval()
        x = torch.rand(2, spec_in["num_channels"], *spec_in["spatial_shape"], dtype=getattr(torch, spec_in["dtype"]))
        with torch.no_grad():
            recon = net(x)
        for name in ("reconstruction", "anomaly_map"):
            spec = outputs[name]
            assert recon.shape == (2, spec["num_channels"], *spec["spatial_shape"]), name
            assert recon.dtype == getattr(torch, spec["dtype"])
        low, high = outputs["reconstruction"]["value_range"]
        assert low <= float(recon.min()) and float(recon.max()) <= high
        assert outputs["anomaly_map"]["value_range"] == [0, 1]
    assert META["anomaly_map"]["residual_sigma_voxels"] == parser["residual_sigma"]


def test_train_kill_resume_evaluate_and_infer(small_adrenal_npz: Path, tmp_path: Path) -> None:
    # 1. start a 2-epoch run and kill it once the first epoch's checkpoint exists
    last = tmp_path / "out" / "checkpoints" / "last.pt"
    args = _train_args(small_adrenal_npz, tmp_path, "--max_epochs", "2")
    killed_at = kill_after_epoch(BUNDLE, args, last, 1, threads="1")
    assert killed_at in (1, 2)
    # 2. the same command resumes where the kill left it and finishes
    out = run_bundle(BUNDLE, *args)
    assert "resumed from" in out and f"at epoch {killed_at}" in out
    assert torch.load(last, weights_only=True)["engine"]["epoch"] == 2
    model = tmp_path / "ckpt" / "model.pt"
    assert (tmp_path / "ckpt" / "model.pt.sha256").read_text().split()[0] == sha256_of(model)
    assert list((tmp_path / "out" / "tensorboard").glob("events.out.tfevents.*"))

    # 3. evaluate on the val split
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
    )
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["split"] == "val" and metrics["scores"]["mean"]["n"] == 16
    assert 0.0 <= metrics["auroc"] <= 1.0 and 0.0 <= metrics["auprc"] <= 1.0
    assert metrics["residual_scale"] > 0
    assert len(list(csv.DictReader((report / "cases.csv").open()))) == 16
    assert (report / "score_histogram.png").is_file()

    # 4. inference on NIfTI inputs with a non-trivial grid: outputs in that grid and affine
    images = tmp_path / "nifti"
    images.mkdir()
    affine = np.diag([-1.5, 1.5, 2.0, 1.0])
    affine[:3, 3] = [10.0, -20.0, 5.0]
    with np.load(small_adrenal_npz) as archive:
        volume = archive["val_images"][0][:, :, ::2]  # 64 x 64 x 32
    nib.save(nib.Nifti1Image(volume, affine), images / "case0.nii.gz")
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
    rows = list(csv.DictReader((predictions / "scores.csv").open()))
    assert [r["case_id"] for r in rows] == ["case0"]
    assert -1.0 <= float(rows[0]["anomaly_score"]) <= 1.0  # the signed residual mean
    for name in ("reconstruction", "anomaly_map"):
        image = nib.load(predictions / f"case0_{name}.nii.gz")
        assert image.shape == volume.shape
        np.testing.assert_allclose(image.affine, affine, atol=1e-5)
    amap = np.asarray(nib.load(predictions / "case0_anomaly_map.nii.gz").dataobj)
    assert amap.min() >= 0.0 and amap.max() <= 1.0


def test_mlflow_tracking_uses_a_local_sqlite_store(small_adrenal_npz: Path, tmp_path: Path) -> None:
    """MLflow 3 refuses the file store; ``tracking_uri`` points at ``<output_dir>/mlruns.db``."""
    mlflow = pytest.importorskip("mlflow")
    run_bundle(BUNDLE, *_train_args(small_adrenal_npz, tmp_path, "--max_epochs", "1", "--tracking", "mlflow"))
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
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    command = [torchrun, "--standalone", "--nproc_per_node=2", "-m", "monai.bundle", *args]
    result = subprocess.run(command, cwd=BUNDLE, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    assert (tmp_path / "ckpt" / "model.pt").is_file()
    assert torch.load(tmp_path / "out" / "checkpoints" / "last.pt", weights_only=True)["engine"]["epoch"] == 1


def test_torchscript_export_with_monai_ckpt_export(tmp_path: Path) -> None:
    weights = BUNDLE / "models" / "model.pt"
    if not weights.is_file():
        pytest.fail("models/model.pt is missing")
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
    eager = Autoencoder().eval()
    eager.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    x = torch.rand(1, 1, 64, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(module(x), eager(x), atol=1e-5, rtol=1e-4)


def test_onnx_export_keeps_metadata_and_matches_torch(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from monai_ext.bundle import export_onnx, read_onnx_metadata

    net = Autoencoder()
    net.load_state_dict(torch.load(BUNDLE / "models" / "model.pt", map_location="cpu", weights_only=True))
    path = export_onnx(net.eval(), tmp_path / "model.onnx", META, output_names=("reconstruction",))
    assert read_onnx_metadata(path)["version"] == META["version"]
