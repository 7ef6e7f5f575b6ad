"""The CT under a label map: onto the label map's grid by world position, typed errors, the worker's backgroundPath."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from matplotlib.image import imread
from monai.data import MetaTensor

from monai_ext.bundle import BundleInputError, run_bundle
from monai_ext.bundle.inputs.background import background_on_grid, load_background
from monai_ext.bundle.per_label import load_label_map
from monai_ext.data.scanner_grid import PlacedMask, embed_masks, scanner_affine
from tests.bundle.conftest import CLASSIFIER, ellipsoid_mask

LABEL_SHAPE = (120, 100, 40)


def _world(affine: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """RAS mm of every voxel centre, ``(3, *shape)``."""
    index = np.stack(np.meshgrid(*[np.arange(n, dtype=np.float64) for n in shape], indexing="ij"))
    return np.einsum("ab,b...->a...", affine[:3, :3], index) + affine[:3, 3].reshape(3, 1, 1, 1)


def _ramp(world: np.ndarray) -> np.ndarray:
    """A linear function of the world position (HU-like values), which trilinear interpolation reproduces."""
    return 2.0 * world[0] - world[1] + 0.5 * world[2] + 40.0


@pytest.fixture
def labels_on_a_scanner_grid(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """One ellipsoid gland (label 1) on a tilted 0.8 x 0.8 x 2 mm grid, as NIfTI: ``(path, affine)``."""
    affine = scanner_affine(shape=LABEL_SHAPE, spacing=(0.8, 0.8, 2.0), degrees=(10.0, 5.0, -15.0))
    blob = ellipsoid_mask((40, 40, 40), (6.0, 14.0, 10.0))
    labels = embed_masks({1: PlacedMask(mask=blob, centre=(-22.0, 4.0, 0.0))}, affine, LABEL_SHAPE)
    path = tmp_path / "labels.nii.gz"
    nib.save(nib.Nifti1Image(labels, affine), path)
    return path, affine


def _ct(tmp_path: Path, affine: np.ndarray, shape: tuple[int, int, int], name: str = "ct.nii.gz") -> Path:
    path = tmp_path / name
    nib.save(nib.Nifti1Image(_ramp(_world(affine, shape)).astype(np.float32), affine), path)
    return path


def test_a_background_on_the_grid_is_used_as_it_is(labels_on_a_scanner_grid: tuple, tmp_path: Path) -> None:
    path, affine = labels_on_a_scanner_grid
    ct = _ct(tmp_path, affine, LABEL_SHAPE)
    before = ct.read_bytes()
    on_grid = load_background(ct, load_label_map(path))
    assert on_grid.meta["resampled"] is False and on_grid.meta["filename_or_obj"] == str(ct)
    np.testing.assert_array_equal(on_grid[0].numpy(), nib.load(ct).get_fdata().astype(np.float32))
    np.testing.assert_allclose(np.asarray(on_grid.affine), affine, atol=1e-6)
    assert ct.read_bytes() == before  # the input is never modified


def test_a_background_on_another_grid_is_resampled_by_world_position(
    labels_on_a_scanner_grid: tuple, tmp_path: Path
) -> None:
    path, affine = labels_on_a_scanner_grid
    coarse = scanner_affine(shape=(50, 40, 30), spacing=(1.5, 1.5, 2.5), degrees=(-4.0, 8.0, 20.0), centre=(-30, 0, 0))
    label_map = load_label_map(path)
    on_grid = load_background(_ct(tmp_path, coarse, (50, 40, 30)), label_map)
    assert tuple(on_grid.shape) == (1, *LABEL_SHAPE) and on_grid.meta["resampled"] is True
    np.testing.assert_allclose(np.asarray(on_grid.affine), np.asarray(label_map.affine), atol=1e-6)
    # inside the coarse grid (a voxel away from its border) the values are the ramp at the label voxels' positions
    world = _world(affine, LABEL_SHAPE)
    inverse = np.linalg.inv(coarse)
    coarse_index = np.einsum("ab,b...->a...", inverse[:3, :3], world) + inverse[:3, 3].reshape(3, 1, 1, 1)
    inside = np.all((coarse_index >= 1) & (coarse_index <= np.reshape([48, 38, 28], (3, 1, 1, 1))), axis=0)
    outside = np.any((coarse_index < -1) | (coarse_index > np.reshape([50, 40, 30], (3, 1, 1, 1))), axis=0)
    assert inside.sum() > 10_000 and outside.sum() > 10_000  # the CT covers part of the label grid
    values = on_grid[0].numpy()
    np.testing.assert_allclose(values[inside], _ramp(world)[inside], atol=0.05)
    lowest = float(nib.load(tmp_path / "ct.nii.gz").get_fdata().min())
    np.testing.assert_allclose(values[outside], lowest, atol=1e-3)  # beyond the CT: its lowest value (air)


def test_a_background_that_does_not_overlap_names_both_files(labels_on_a_scanner_grid: tuple, tmp_path: Path) -> None:
    path, _ = labels_on_a_scanner_grid
    elsewhere = scanner_affine(shape=(40, 40, 20), spacing=(1.0, 1.0, 2.0), degrees=(0, 0, 0), centre=(0, 0, 900))
    ct = _ct(tmp_path, elsewhere, (40, 40, 20), "other_patient.nii.gz")
    with pytest.raises(BundleInputError, match="does not overlap the label map in world space") as err:
        load_background(ct, load_label_map(path))
    assert str(ct) in str(err.value) and str(path) in str(err.value)
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 8, 3), np.float32), np.eye(4)), tmp_path / "4d.nii.gz")
    label_map = load_label_map(path)
    with pytest.raises(BundleInputError, match="expected a 3D volume") as err:  # a 4D image, named
        load_background(tmp_path / "4d.nii.gz", label_map)
    assert "4d.nii.gz" in str(err.value)


def test_in_memory_background_on_a_shifted_grid_keeps_the_modality() -> None:
    grid = MetaTensor(torch.zeros(1, 6, 6, 6), affine=torch.eye(4, dtype=torch.float64))
    shifted = torch.eye(4, dtype=torch.float64)
    shifted[:3, 3] = 0.5  # half a voxel along each axis
    image = MetaTensor(
        torch.arange(6.0).repeat(6, 6, 1).permute(2, 0, 1)[None], affine=shifted, meta={"modality": "MR"}
    )
    on_grid = background_on_grid(image, grid)
    assert on_grid.meta["modality"] == "MR" and on_grid.meta["resampled"] is True
    # value i at world x = i + 0.5, so the label voxel at x = 2 sits halfway between 1 and 2
    assert float(on_grid[0, 2, 3, 3]) == pytest.approx(1.5, abs=1e-4)


def test_worker_backgroundpath_puts_the_ct_under_the_montage(labels_on_a_scanner_grid: tuple, tmp_path: Path) -> None:
    path, _ = labels_on_a_scanner_grid
    coarse = scanner_affine(shape=(80, 70, 40), spacing=(1.2, 1.2, 2.0), degrees=(0.0, 0.0, 5.0))
    ct = _ct(tmp_path, coarse, (80, 70, 40))
    request = {"bundlePath": str(CLASSIFIER), "inputPath": str(path), "outputDir": str(tmp_path / "out"), "label": 1}
    summary = run_bundle(request | {"device": "cpu", "backgroundPath": str(ct)})
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["background"] == summary["background"]
    assert result["background"]["path"] == str(ct.resolve()) and result["background"]["resampled"] is True
    low, high = result["background"]["window"]  # not a CT (no air): percentiles of the ramp
    assert -200 < low < high < 300
    png = imread(result["montages"]["heatmap"])[..., :3]
    cyan = (png[..., 0] < 0.35) & (png[..., 1] > 0.75) & (png[..., 2] > 0.75)
    assert cyan.sum() > 300  # the gland's outline
    far = _ct(tmp_path, scanner_affine(shape=(20, 20, 10), centre=(500, 0, 0)), (20, 20, 10), "far.nii.gz")
    with pytest.raises(BundleInputError, match="does not overlap"):
        run_bundle(request | {"outputDir": str(tmp_path / "far"), "backgroundPath": str(far)})
    assert not (tmp_path / "far").exists()  # refused before the run: nothing written
