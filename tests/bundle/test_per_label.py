"""One run per label of a label map (worker contract and typed errors), and validation glands on scanner grids."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from monai_ext.bundle import BundleError, BundleInputError, BundleRunner, run_bundle
from monai_ext.bundle.per_label import label_choices, run_labels
from monai_ext.data.npz import load_npz_split
from monai_ext.data.scanner_grid import PlacedMask, embed_masks, scanner_affine
from monai_ext.explain.map_quality.localisation import mass_near_mask
from tests.bundle.conftest import CLASSIFIER, ellipsoid_mask
from tests.conftest import require_data


@pytest.fixture
def two_gland_nifti(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """Two ellipsoid 'glands' (labels 1 and 2) on a tilted 0.8 x 0.8 x 2 mm grid."""
    shape = (120, 100, 40)
    affine = scanner_affine(shape=shape, spacing=(0.8, 0.8, 2.0), degrees=(10.0, 5.0, -15.0))
    blob = ellipsoid_mask((40, 40, 40), (4.0, 12.0, 10.0))  # p ~ 0.3 and a heatmap that is not empty
    glands = {
        1: PlacedMask(mask=blob, centre=(20.0, 0.0, 5.0)),
        2: PlacedMask(mask=blob[::-1], centre=(-22.0, 4.0, 0.0)),
    }
    labels = embed_masks(glands, affine, shape)
    path = tmp_path / "labels.nii.gz"
    nib.save(nib.Nifti1Image(labels, affine), path)
    return path, labels, affine


def test_worker_runs_once_per_label_into_named_folders(two_gland_nifti: tuple, tmp_path: Path) -> None:
    path, labels, affine = two_gland_nifti
    request = {"bundlePath": str(CLASSIFIER), "inputPath": str(path), "outputDir": str(tmp_path / "out")}
    index = run_bundle(request | {"labels": [1, 2], "labelNames": {"right": 1, "left": 2}, "device": "cpu"})
    assert [(e["value"], e["name"]) for e in index["labels"]] == [(1, "right"), (2, "left")]
    assert json.loads((tmp_path / "out" / "labels.json").read_text()) == index
    for entry in index["labels"]:
        heatmap = nib.load(Path(entry["output_dir"]) / "heatmap.nii.gz")
        assert heatmap.shape == labels.shape
        np.testing.assert_allclose(heatmap.affine, affine, atol=1e-5)
        assert heatmap.get_fdata().max() > 0.5
        other = labels == 3 - entry["value"]  # the other gland lies outside this label's 64 mm cube
        assert float(heatmap.get_fdata()[other].max()) == 0.0
    one = run_bundle(request | {"outputDir": str(tmp_path / "one"), "label": "left", "labelNames": {"left": 2}})
    assert one["probabilities"] == pytest.approx(index["labels"][1]["probabilities"], abs=1e-6)
    assert (tmp_path / "one" / "result.json").is_file()


def test_label_errors_name_the_file_and_the_labels(two_gland_nifti: tuple, tmp_path: Path) -> None:
    path, _, _ = two_gland_nifti
    request = {"bundlePath": str(CLASSIFIER), "inputPath": str(path), "outputDir": str(tmp_path / "o"), "label": 7}
    with pytest.raises(BundleInputError, match=r"label\(s\) \[7\] are not in the label map; it holds 1, 2") as err:
        run_bundle(request)
    assert str(path) in str(err.value)
    with pytest.raises(BundleInputError, match="no label named 'spleen'"):
        run_bundle(request | {"label": "spleen"})
    with pytest.raises(BundleInputError, match=r"holds 2 labels \[1, 2\]: choose one"):
        BundleRunner(CLASSIFIER, device="cpu").run(path)  # the bundle's own SelectLabeld refuses to guess


@pytest.mark.realdata
def test_validation_glands_on_a_scanner_grid_match_the_native_cubes() -> None:
    """Four val glands, two per label map, on tilted 0.7 x 0.7 x 2.5 mm grids: the answer and the map survive."""
    images, _ = load_npz_split(require_data("medmnist3d/adrenalmnist3d_64_trainval.npz"), "val")
    masks = (images[:4] > 127).astype(np.float32)
    runner = BundleRunner(CLASSIFIER, device="cpu")
    native = [runner.run((m, np.eye(4))).probabilities[1] for m in masks]
    shape, spacing = (200, 200, 60), (0.7, 0.7, 2.5)
    diffs, masses = [], []
    for pair, degrees in (((0, 1), (20.0, -10.0, 15.0)), ((2, 3), (-15.0, 20.0, -25.0))):
        affine = scanner_affine(shape=shape, spacing=spacing, degrees=degrees, centre=(5.0, -10.0, 20.0))
        placed = {n + 1: PlacedMask(mask=masks[c], centre=(40.0 * (1 - 2 * n), -8.0, 22.0)) for n, c in enumerate(pair)}
        labels = embed_masks(placed, affine, shape)
        label_map = MetaTensor(torch.from_numpy(labels.astype(np.float32))[None], affine=torch.as_tensor(affine))
        for choice, result in run_labels(runner, label_map, label_choices(label_map)):
            case = pair[choice.value - 1]
            diffs.append(abs(result.probabilities[1] - native[case]))
            heat = result.maps["heatmap"].as_tensor()[0].numpy()
            masses.append(mass_near_mask(heat, labels == choice.value, spacing))
    assert np.median(diffs) <= 0.03 and max(diffs) <= 0.15, diffs
    assert min(masses) >= 0.6 and np.median(masses) >= 0.75, masses


def test_running_on_the_cube_window_gives_the_full_grid_result(two_gland_nifti: tuple) -> None:
    """The window around the label (the bundle's cube reach) is an exact shortcut: same answer, same maps."""
    _, labels, affine = two_gland_nifti
    runner = BundleRunner(CLASSIFIER, device="cpu")
    label_map = MetaTensor(torch.from_numpy(labels.astype(np.float32))[None], affine=torch.as_tensor(affine))
    choices = label_choices(label_map, [2])
    [(_, window)] = run_labels(runner, label_map, choices)
    [(_, full)] = run_labels(runner, label_map, choices, reach_mm=None)
    assert window.probabilities == pytest.approx(full.probabilities, abs=1e-6)
    heat_window, heat_full = window.maps["heatmap"], full.maps["heatmap"]
    assert tuple(heat_window.shape) == (1, *labels.shape)
    np.testing.assert_allclose(np.asarray(heat_window.affine), affine, atol=1e-9)
    torch.testing.assert_close(heat_window.as_tensor(), heat_full.as_tensor(), atol=1e-4, rtol=0)


def test_label_map_requests_apply_overrides_and_refuse_hostile_ones(two_gland_nifti: tuple, tmp_path: Path) -> None:
    """A per-label request goes through the same override checks as a volume request (runner_from_request)."""
    path, _, _ = two_gland_nifti
    request = {"bundlePath": str(CLASSIFIER), "inputPath": str(path), "label": 1, "device": "cpu"}
    plain = run_bundle(request | {"outputDir": str(tmp_path / "plain")})
    coarse = run_bundle(request | {"outputDir": str(tmp_path / "coarse"), "overrides": {"max_distance": 3}})
    assert abs(coarse["probabilities"][1] - plain["probabilities"][1]) > 0.01  # the override reached the recipe
    marker = tmp_path / "pwned"
    hostile = {
        "max_distance": f"$__import__('pathlib').Path({str(marker)!r}).touch()",
        "network_def#_target_": "os.system",
        "network_def::antialias": True,
        "#max_distance": 3,
    }
    for key, value in hostile.items():
        out = tmp_path / f"hostile{len(key)}"
        with pytest.raises(BundleError, match=f"override key {key!r}|override {key!r}"):
            run_bundle(request | {"outputDir": str(out), "overrides": {key: value}})
        assert not out.exists()
    assert not marker.exists()
