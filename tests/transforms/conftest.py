"""Shared fixtures for the transform tests: tiny volumes only (the whole suite must stay fast)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from monai_ext.data.npz import load_npz_split
from tests.conftest import require_data


def dice(a: torch.Tensor, b: torch.Tensor) -> float:
    """Dice overlap of two 0/1 masks."""
    return float(2 * (a * b).sum() / (a.sum() + b.sum()))


@pytest.fixture(scope="session")
def val_glands() -> torch.Tensor:
    """The first eight real AdrenalMNIST3D val glands, ``(8, 1, 64, 64, 64)`` 0/1 (skips without the data)."""
    images, _ = load_npz_split(require_data("medmnist3d/adrenalmnist3d_64_trainval.npz"), "val")
    return torch.from_numpy((images[:8] > 127).astype(np.float32))[:, None]


@pytest.fixture
def rng() -> np.random.Generator:
    """A local, seeded generator (tests never touch the global numpy RNG)."""
    return np.random.default_rng(1234)


@pytest.fixture
def volume(rng: np.random.Generator) -> torch.Tensor:
    """A random real-valued channel-first volume, shape (1, 16, 16, 16)."""
    return torch.from_numpy(rng.normal(size=(1, 16, 16, 16)).astype(np.float32))


@pytest.fixture
def lps_affine() -> torch.Tensor:
    """Voxel-to-world (mm) affine of an LPS-like volume: x and y flipped, 2 x 2 x 3 mm, off-origin."""
    return torch.tensor(
        [
            [-2.0, 0.0, 0.0, 10.0],
            [0.0, -2.0, 0.0, 20.0],
            [0.0, 0.0, 3.0, -30.0],
            [0.0, 0.0, 0.0, 1.0],
        ],
        dtype=torch.float64,
    )


@pytest.fixture
def cube_meta(lps_affine: torch.Tensor) -> MetaTensor:
    """A (1, 16, 16, 12) MetaTensor with a bright 4-voxel cube off-centre, on ``lps_affine``."""
    data = torch.zeros(1, 16, 16, 12)
    data[:, 3:7, 9:13, 4:8] = 1.0
    return MetaTensor(data, affine=lps_affine, meta={"patient": "anon-1"})
