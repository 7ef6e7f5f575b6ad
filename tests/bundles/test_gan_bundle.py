"""The GAN bundle the model-zoo way: layout, metadata, latent/image contract, train (MLflow, resume), evaluate,
inference (reproducible) and the realism map.

Smoke runs use a small slice of the real data and write only into temporary folders: the shipped weights are
never touched. The subprocess runs are marked slow (CI runs them).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser, verify_metadata

from monai_ext.bundle import SCHEMA_PATH
from monai_ext.engines import sha256_of
from monai_ext.engines.gan.realism import write_realism_map
from monai_ext.io.nifti import save_nifti
from monai_ext.io.volume import Volume
from tests.bundles.conftest import BUNDLES, kill_after_epoch, run_bundle, train_args

BUNDLE = BUNDLES / "adrenal_shape_gan_3d"
CONFIGS = BUNDLE / "configs"
META = json.loads((CONFIGS / "metadata.json").read_text())
TRAIN = "configs/train.json"


def _parse(config: str, **overrides: object) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config(str(CONFIGS / config))
    parser.update({"bundle_root": str(BUNDLE), "device": "$torch.device('cpu')", **overrides})
    return parser


def test_layout_weights_and_attribution() -> None:
    names = ["train.json", "evaluate.json", "inference.json", "realism_map.json", "multi_gpu_train.json"]
    for name in [*names, "logging.conf", "metadata.json"]:
        assert (CONFIGS / name).is_file(), name
    assert (BUNDLE / "LICENSE").is_file() and (BUNDLE / "docs" / "README.md").is_file()
    readme = (BUNDLE / "docs" / "README.md").read_text()
    assert "CC BY 4.0" in readme and "MedMNIST v2" in readme and "Scientific Data" in readme
    assert "CC BY 4.0" in META["license"] and "MedMNIST v2" in META["references"][0]
    for weights, key in (("model.pt", "generator_def"), ("discriminator.pt", "discriminator_def")):
        path = BUNDLE / "models" / weights
        digest, name = (BUNDLE / "models" / f"{weights}.sha256").read_text().split()
        assert (digest, name) == (sha256_of(path), weights)
        assert path.stat().st_size < 25 * 2**20
        config = "inference.json" if weights == "model.pt" else "realism_map.json"
        net = _parse(config).get_parsed_content(key)
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))


def test_verify_metadata_with_the_local_schema() -> None:
    verify_metadata(meta_file=str(CONFIGS / "metadata.json"), filepath=str(SCHEMA_PATH))


def _check_declared(tensor: torch.Tensor, spec: dict, batch: int, spatial: tuple[int, ...] | None = None) -> None:
    declared = tuple(spatial if spatial is not None else spec["spatial_shape"])
    assert tuple(tensor.shape) == (batch, spec["num_channels"], *declared)
    assert tensor.dtype == getattr(torch, spec["dtype"])
    low, high = spec["value_range"]
    assert low is None or tensor.min() >= low
    assert high is None or tensor.max() <= high


def test_generator_and_realism_map_match_the_declared_formats(tmp_path: Path) -> None:
    """``verify_net_in_out`` only knows image/pred: the same check for the latent -> image generator and for
    the volume -> realism map output, with the networks built from the bundle's configs."""
    formats = META["network_data_format"]
    latent_spec, image_spec = formats["inputs"]["latent"], formats["outputs"]["image"]
    generator = _parse("inference.json").get_parsed_content("generator_def").eval()
    latent = torch.randn(2, latent_spec["num_channels"], *latent_spec["spatial_shape"]) * 3
    assert latent.dtype == getattr(torch, latent_spec["dtype"])
    with torch.no_grad():
        image = generator(latent)
    _check_declared(image, image_spec, 2)

    parser = _parse("realism_map.json")
    discriminator = parser.get_parsed_content("discriminator_def")
    odd = (20, 24, 28)  # any size: the map comes back in the input's grid
    affine = np.diag([0.8, 0.9, 1.1, 1.0])
    affine[:3, 3] = [5.0, -3.0, 2.0]
    src = save_nifti(
        Volume(array=np.random.default_rng(0).random(odd).astype(np.float32), affine=affine),
        tmp_path / "volume.nii.gz",
        sidecar=False,
    )
    out = write_realism_map(
        discriminator,
        src,
        tmp_path / "map.nii.gz",
        spatial_size=parser["spatial_size"],
        target_layer=parser["target_layer"],
    )
    written = nib.load(out)
    np.testing.assert_allclose(written.affine, affine, atol=1e-6)
    cam = torch.as_tensor(np.asarray(written.dataobj))[None, None]
    _check_declared(cam, formats["outputs"]["realism_map"], 1, spatial=odd)


def _train_args(data: Path, run: Path, *extra: str) -> tuple[str, ...]:
    return train_args(data, run, "--batch_size", "4", "--train_limit", "12", *extra)


@pytest.mark.slow
def test_train_mlflow_evaluate_inference_realism_map(small_adrenal_npz: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    # MLflow >= 3.13 has no file store: the local store is SQLite (needs sqlalchemy and alembic besides mlflow)
    tracking = all(importlib.util.find_spec(m) for m in ("mlflow", "sqlalchemy", "alembic"))
    extra = ("--tracking", "mlflow") if tracking else ()
    log = run_bundle(BUNDLE, *_train_args(small_adrenal_npz, tmp_path, "--max_epochs", "1", *extra))
    assert "Epoch[1] Complete" in log
    for name in ("model.pt", "model.pt.sha256", "discriminator.pt", "discriminator.pt.sha256"):
        assert (tmp_path / "ckpt" / name).is_file(), name
    assert (out / "checkpoints" / "last.pt").is_file() and (out / "loss_curves.png").is_file()
    assert any((out / "tensorboard").iterdir())
    if tracking:
        import mlflow

        client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{out / 'mlruns.db'}")
        runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
        assert any("train_loss" in run.data.metrics for run in runs), "MLflow logged no train_loss"

    config = f"['{TRAIN}','configs/evaluate.json']"
    run_bundle(
        BUNDLE,
        "run",
        "--config_file",
        config,
        "--bundle_root",
        ".",
        "--dataset_path",
        str(small_adrenal_npz),
        "--output_dir",
        str(out),
        "--ckpt_dir",
        str(tmp_path / "ckpt"),
        "--train_limit",
        "12",
        "--ms_ssim_pairs",
        "10",
        "--classifier_path",
        str(BUNDLE.parent / "adrenal_hyperplasia_classifier_3d" / "models" / "model.pt"),
    )
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("fd_generated_vs_real", "fd_real_vs_real"):
        assert np.isfinite(metrics[key]) and metrics[key] >= 0
    for key in ("generated_vs_real", "real_vs_real"):
        assert set(metrics[key]) == {"precision", "recall", "density", "coverage"}
    assert set(metrics["ms_ssim_mean"]) == {"generated", "real_a", "real_b"}
    assert metrics["num_samples_per_set"] == 6 and metrics["feature_network"]["weights"]

    runs = []
    for name in ("a", "b"):
        target = tmp_path / f"infer_{name}"
        run_bundle(
            BUNDLE,
            "run",
            "--config_file",
            "configs/inference.json",
            "--bundle_root",
            ".",
            "--ckpt_dir",
            str(tmp_path / "ckpt"),
            "--output_dir",
            str(target),
            "--num_samples",
            "2",
            "--seed",
            "7",
        )
        runs.append(target)
    files = sorted(p.name for p in runs[0].iterdir())
    assert files == ["mid_slices.png", "sample_0000.nii.gz", "sample_0001.nii.gz"]
    for name in files:
        assert (runs[0] / name).read_bytes() == (runs[1] / name).read_bytes(), name
    sample = nib.load(runs[0] / "sample_0000.nii.gz")
    assert sample.shape == (32, 32, 32) and sample.get_data_dtype() == np.float32
    np.testing.assert_allclose(sample.affine, np.diag([2.0, 2.0, 2.0, 1.0]))  # the 64 mm training cube at 2 mm
    values = np.asarray(sample.dataobj)
    assert values.min() >= 0 and values.max() <= 1

    run_bundle(
        BUNDLE,
        "run",
        "--config_file",
        "configs/realism_map.json",
        "--bundle_root",
        ".",
        "--ckpt_dir",
        str(tmp_path / "ckpt"),
        "--output_dir",
        str(runs[0]),
    )
    cam = nib.load(runs[0] / "realism_map.nii.gz")
    assert cam.shape == sample.shape
    np.testing.assert_allclose(cam.affine, sample.affine)


@pytest.mark.slow
def test_resume_after_a_kill_continues_at_the_saved_epoch(small_adrenal_npz: Path, tmp_path: Path) -> None:
    """Kill a 3-epoch run once epoch 2 is checkpointed; the same command then runs epoch 3 only."""
    args = _train_args(small_adrenal_npz, tmp_path, "--max_epochs", "3", "--batch_size", "2", "--train_limit", "24")
    last = tmp_path / "out" / "checkpoints" / "last.pt"
    kill_after_epoch(BUNDLE, args, last, 2, timeout=900)
    state = torch.load(last, weights_only=True)
    assert state["engine"]["epoch"] == 2, "the run was not killed between epochs 2 and 3"
    before = torch.load(tmp_path / "ckpt" / "model.pt", weights_only=True)

    log = run_bundle(BUNDLE, *args)
    assert "at epoch 2" in log and "Epoch[3] Complete" in log and "Epoch[1] Complete" not in log
    history = json.loads((tmp_path / "out" / "loss_history.json").read_text())
    assert [e[0] for e in history["epoch"]["g_loss"]] == [1, 2, 3]
    state = torch.load(last, weights_only=True)
    assert state["engine"]["epoch"] == 3
    assert set(state) >= {"generator", "discriminator", "g_optimizer", "d_optimizer", "g_scaler", "d_scaler"}
    after = torch.load(tmp_path / "ckpt" / "model.pt", weights_only=True)
    assert any(not torch.equal(before[k], v) for k, v in after.items())
