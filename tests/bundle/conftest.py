"""Fixtures: copies of the shipped bundles in tmp (tests may damage them), and input volumes with geometry."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
CLASSIFIER = REPO / "bundles" / "adrenal_hyperplasia_classifier_3d"
AUTOENCODER = REPO / "bundles" / "adrenal_shape_autoencoder_3d"
GAN = REPO / "bundles" / "adrenal_shape_gan_3d"


def copy_bundle(source: Path, target: Path) -> Path:
    """Copy a bundle's configs, models (weights and manifest only), docs and licence."""
    for part in ("configs", "docs"):
        shutil.copytree(source / part, target / part)
    (target / "models").mkdir()
    for name in ("model.pt", "model.pt.sha256"):
        shutil.copy2(source / "models" / name, target / "models" / name)
    shutil.copy2(source / "LICENSE", target / "LICENSE")
    return target


@pytest.fixture
def classifier_copy(tmp_path: Path) -> Path:
    """A writable copy of the classifier bundle."""
    return copy_bundle(CLASSIFIER, tmp_path / "classifier")


def edit_config(bundle: Path, edit: Callable[[dict[str, Any]], None], name: str = "inference.json") -> Path:
    """Apply ``edit`` to a bundle config in place; returns the config path."""
    path = bundle / "configs" / name
    config = json.loads(path.read_text())
    edit(config)
    path.write_text(json.dumps(config, indent=4))
    return path


def with_value(bundle: Path, key: str, value: Any) -> Path:
    """Set the inference config's top-level ``key`` to ``value`` (any JSON, hostile or not); returns the bundle."""

    def edit(config: dict[str, Any]) -> None:
        config[key] = value

    edit_config(bundle, edit)
    return bundle


def ellipsoid_mask(shape: tuple[int, int, int], radii: tuple[float, float, float]) -> np.ndarray:
    """A binary ellipsoid centred in ``shape`` (values 0/1, float32)."""
    grids = np.meshgrid(*[np.arange(s) - (s - 1) / 2 for s in shape], indexing="ij")
    inside = sum((g / r) ** 2 for g, r in zip(grids, radii, strict=True)) <= 1.0
    return inside.astype(np.float32)


def oblique_affine(spacing: tuple[float, float, float]) -> np.ndarray:
    """An LPS-like, slightly rotated RAS affine with the given voxel sizes."""
    t = np.radians(12.0)
    rotation = np.array([[-np.cos(t), 0.0, np.sin(t)], [0.0, -1.0, 0.0], [np.sin(t), 0.0, np.cos(t)]])
    affine = np.eye(4)
    affine[:3, :3] = rotation * np.asarray(spacing)[None, :]
    affine[:3, 3] = [20.0, -15.0, 30.0]
    return affine


@pytest.fixture
def mask_nifti(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """An anisotropic, oblique 40x48x30 ellipsoid mask as NIfTI: ``(path, array, affine)``."""
    array = ellipsoid_mask((40, 48, 30), (9.0, 14.0, 7.0))
    affine = oblique_affine((1.2, 0.9, 1.6))
    path = tmp_path / "mask.nii.gz"
    nib.save(nib.Nifti1Image(array, affine), path)
    return path, array, affine
