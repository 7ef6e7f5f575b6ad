"""Fixtures for bundle smoke tests: a small real-data archive and a helper that runs ``python -m monai.bundle``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

from monai_ext.engines.training.best_model import sha256_of
from tests.conftest import REPO, require_data

BUNDLES = REPO / "bundles"


@pytest.fixture(scope="session")
def small_adrenal_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 24 train and 16 val cases of the real AdrenalMNIST3D 64^3 archive, in a temporary file.

    Both classes are present in each split. Nothing of the real data is written into the repository.
    """
    source = require_data("medmnist3d/adrenalmnist3d_64_trainval.npz")
    with np.load(source) as archive:
        arrays = {}
        for split, n in (("train", 24), ("val", 16)):
            labels = archive[f"{split}_labels"][:, 0]
            keep = np.r_[np.flatnonzero(labels == 0)[: n - 6], np.flatnonzero(labels == 1)[:6]]
            arrays[f"{split}_images"] = archive[f"{split}_images"][keep]
            arrays[f"{split}_labels"] = archive[f"{split}_labels"][keep]
    path = tmp_path_factory.mktemp("adrenal") / "adrenal_small_64.npz"
    np.savez(path, **arrays)
    return path


def run_bundle(bundle: Path, *args: str, runner: tuple[str, ...] = (), timeout: float = 600) -> str:
    """Run ``python -m monai.bundle <args>`` in ``bundle``; return its combined output, fail with it on error."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    command = [*(runner or (sys.executable,)), "-m", "monai.bundle", *args]
    result = subprocess.run(command, cwd=bundle, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed ({result.returncode}):\n{output[-6000:]}")
    return output


def train_args(data: Path, run: Path, *extra: str) -> tuple[str, ...]:
    """``run`` arguments of a bundle's ``configs/train.json`` on ``data``, writing only under ``run``."""
    return (
        "run",
        "--config_file",
        "configs/train.json",
        "--bundle_root",
        ".",
        "--dataset_path",
        str(data),
        "--output_dir",
        str(run / "out"),
        "--ckpt_dir",
        str(run / "ckpt"),
        *extra,
    )


def kill_after_epoch(
    bundle: Path, args: Sequence[str], last: Path, epoch: int, *, timeout: float = 300, threads: str | None = None
) -> int:
    """Start ``python -m monai.bundle <args>``, SIGKILL it once ``last`` holds ``epoch`` or later; return that epoch."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    if threads is not None:
        env["OMP_NUM_THREADS"] = threads
    process = subprocess.Popen(
        [sys.executable, "-m", "monai.bundle", *args],
        cwd=bundle,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            if last.is_file() and torch.load(last, weights_only=True)["engine"]["epoch"] >= epoch:
                break
            time.sleep(0.1)
    finally:
        process.kill()
        process.wait()
    return int(torch.load(last, weights_only=True)["engine"]["epoch"])


def kill_then_resume(bundle: Path, args: Sequence[str], run: Path) -> None:
    """A 2-epoch training run killed once epoch 1 is checkpointed, then resumed to epoch 2 by the same command.

    Checks the checkpoint after the kill, the best model's sha256 manifest, TensorBoard events and the resume.
    """
    last = run / "out" / "checkpoints" / "last.pt"
    kill_after_epoch(bundle, args, last, 1)  # SIGKILL once epoch 1 is checkpointed
    assert torch.load(last, weights_only=True)["engine"]["epoch"] == 1
    model = run / "ckpt" / "model.pt"
    assert (run / "ckpt" / "model.pt.sha256").read_text().split()[0] == sha256_of(model)
    assert list((run / "out" / "tensorboard").glob("events.out.tfevents.*"))
    out = run_bundle(bundle, *args)  # the same command again
    assert "resumed from" in out and "at epoch 1" in out
    assert torch.load(last, weights_only=True)["engine"]["epoch"] == 2


@pytest.fixture(scope="session")
def small_hippocampus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MSD-style folder (``imagesTr``/``labelsTr``) linking to the first 8 real hippocampus crops.

    Only symbolic links are written (into a temporary folder); the real files are never copied or modified.
    """
    source = require_data("hippocampus-msd")
    root = tmp_path_factory.mktemp("hippocampus")
    images = sorted((source / "imagesTr").glob("hippocampus_*.nii.gz"))[:8]
    for sub in ("imagesTr", "labelsTr"):
        (root / sub).mkdir()
        for image in images:
            (root / sub / image.name).symlink_to(source / sub / image.name)
    return root
