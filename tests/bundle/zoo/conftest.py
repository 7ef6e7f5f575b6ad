"""Fixtures: writable copies of the MONAI Model Zoo bundles in ``../shared/zoo`` with their networks' own random
weights, and small real CT/MR crops (NIfTI) from ``../shared/data``; skipped when the shared folders are absent."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser

from monai_ext.bundle.zoo.scripts import bundle_code
from monai_ext.io.dicom.load import load_dicom_series
from tests.conftest import REPO, require_data

SHARED_ZOO = Path(os.environ.get("MONAI_EXT_SHARED_ZOO", REPO.parent / "shared" / "zoo")).resolve()
CONFIGS = ("inference.json", "inference.yaml")


def require_zoo(name: str) -> Path:
    """A zoo bundle folder (never written to), or skip with the reason."""
    path = SHARED_ZOO / name
    if not (path / "configs").is_dir():
        pytest.skip(f"zoo bundle not available: {path} (expected ../shared/zoo beside the checkout)")
    return path


def zoo_copy(name: str, target: Path, *, seed: int = 2) -> Path:
    """Copy a zoo bundle to ``target`` and save its network's own random state dict as ``models/model.pt``.

    The weights are those of ``network_def`` built with ``torch.manual_seed(seed)``, with the output layer's
    bias set to zero so that a random network predicts more than one class (a fair test of the mechanics).
    """
    source = require_zoo(name)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.pt", "*.ts", "eval"))
    (target / "models").mkdir(exist_ok=True)
    config = next(target / "configs" / n for n in CONFIGS if (target / "configs" / n).is_file())
    parser = ConfigParser()
    parser.read_config(str(config))
    parser["bundle_root"] = str(target)
    torch.manual_seed(seed)
    with bundle_code(target):
        network = parser.get_parsed_content("network_def")
    state = network.state_dict()
    outputs = int(parser.get_parsed_content("network_def#out_channels")) if "network_def#out_channels" in parser else 0
    biases = [k for k, v in state.items() if k.endswith("bias") and v.ndim == 1 and len(v) == outputs]
    if biases:
        state[biases[-1]].zero_()
    torch.save(state, target / "models" / "model.pt")
    return target


def _crop(volume_path: str, start: tuple[int, int, int], size: tuple[int, int, int], out: Path) -> Path:
    volume = load_dicom_series(require_data(volume_path))
    index = tuple(slice(s, s + n) for s, n in zip(start, size, strict=True))
    affine = volume.affine.copy()
    affine[:3, 3] = volume.affine[:3, :3] @ np.asarray(start, dtype=np.float64) + volume.affine[:3, 3]
    nib.save(nib.Nifti1Image(np.ascontiguousarray(volume.array[index], dtype=np.float32), affine), out)
    return out


@pytest.fixture(scope="session")
def ct_crop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 96x96x24 crop (0.78 x 0.78 x 1 mm) of the LIDC-IDRI-0314 chest CT slab (CC BY 3.0), as NIfTI."""
    folder = tmp_path_factory.mktemp("ct")
    return _crop("dicom/ct-chest-lidc0314-slab", (216, 216, 20), (96, 96, 24), folder / "ct_crop.nii.gz")


@pytest.fixture(scope="session")
def mr_crop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40x40x5 crop (1 x 1 x 4.8 mm) of the Siemens Prisma T1 sagittal head MR (BSD-2), as NIfTI."""
    folder = tmp_path_factory.mktemp("mr")
    return _crop("dicom/mr-head-t1-sag-siemens-prisma/dicom", (108, 108, 15), (40, 40, 5), folder / "mr_crop.nii.gz")
