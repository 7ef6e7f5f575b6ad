"""Fixtures for the Slicer module tests: paths, the module's Lib on sys.path, tiny volumes and bundles."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
EXTENSION_DIR = REPO / "slicer_module"
MODULE_NAME = "MonaiBundleExplorer"
MODULE_DIR = EXTENSION_DIR / MODULE_NAME
MODULE_SCRIPT = MODULE_DIR / f"{MODULE_NAME}.py"
UI_FILE = MODULE_DIR / "Resources" / "UI" / f"{MODULE_NAME}.ui"
ARTIFACTS = REPO / "tests" / "artifacts" / "slicer_module"


def shipped_bundles() -> dict[str, str]:
    """The repository's shipped bundles, folder name -> metadata ``name``, sorted as the module lists them."""
    found = {}
    for metadata in REPO.glob("bundles/*/configs/metadata.json"):
        found[metadata.parents[1].name] = json.loads(metadata.read_text(encoding="utf-8"))["name"]
    assert found, f"no bundles with configs/metadata.json under {REPO / 'bundles'}"
    return dict(sorted(found.items(), key=lambda item: item[0].lower()))


if str(MODULE_DIR) not in sys.path:
    sys.path.insert(0, str(MODULE_DIR))


@pytest.fixture
def tiny_bundle(tmp_path: Path) -> Path:
    from MonaiBundleExplorerLib import testing

    return testing.writeTinyBundle(tmp_path / "tiny_bundle")


@pytest.fixture
def oblique_affine() -> np.ndarray:
    """A left-handed, rotated IJK-to-RAS matrix with anisotropic spacing (mm)."""
    angle = np.deg2rad(30.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    matrix = np.eye(4)
    matrix[:3, :3] = rotation @ np.diag([0.8, 1.25, -2.5])
    matrix[:3, 3] = [12.5, -30.0, 7.25]
    return matrix
