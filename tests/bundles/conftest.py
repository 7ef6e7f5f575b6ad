"""Fixtures for bundle smoke tests: a small real-data archive and a helper that runs ``python -m monai.bundle``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

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
