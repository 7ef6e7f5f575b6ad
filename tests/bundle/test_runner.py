"""The runner: outputs on the input's grid and affine, the same numbers as the bundle's own pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from monai_ext.bundle import BundleInputError, BundleRunner, run_bundle
from tests.bundle.conftest import AUTOENCODER, CLASSIFIER, GAN, ellipsoid_mask, oblique_affine
from tests.conftest import require_data


@pytest.fixture(scope="module")
def classifier() -> BundleRunner:
    return BundleRunner(CLASSIFIER, device="cpu")


def test_maps_come_back_on_the_input_grid_and_affine(classifier: BundleRunner, mask_nifti: tuple) -> None:
    path, array, affine = mask_nifti
    result = classifier.run(path)
    heatmap = result.maps["heatmap"]
    assert tuple(heatmap.shape) == (1, *array.shape)
    np.testing.assert_allclose(np.asarray(heatmap.affine), affine, atol=1e-5)
    assert float(heatmap.min()) >= 0.0 and 0.9 <= float(heatmap.max()) <= 1.0  # peak 1 before resampling
    assert sum(result.probabilities) == pytest.approx(1.0, abs=1e-5)
    assert result.class_names == ["normal", "hyperplasia"] and result.predicted in result.class_names
    assert set(result.timings) >= {"load", "preprocess", "forward", "heatmap", "resample"}


def test_in_memory_volume_gives_the_file_result(classifier: BundleRunner, mask_nifti: tuple) -> None:
    path, array, affine = mask_nifti
    from_file, in_memory = classifier.run(path), classifier.run((array, affine))
    assert from_file.probabilities == pytest.approx(in_memory.probabilities, abs=1e-6)
    torch.testing.assert_close(from_file.maps["heatmap"].as_tensor(), in_memory.maps["heatmap"].as_tensor())


def test_voxel_order_does_not_change_the_answer(classifier: BundleRunner) -> None:
    """The same physical volume stored with the first axis flipped: same probabilities, map flipped back."""
    array = ellipsoid_mask((36, 40, 28), (8.0, 12.0, 6.0))
    array[20:, :, :] = 0  # break the symmetry
    affine = oblique_affine((1.0, 1.0, 1.5))
    flipped_affine = affine.copy()
    flipped_affine[:3, 3] = affine[:3, :3] @ np.array([array.shape[0] - 1, 0, 0]) + affine[:3, 3]
    flipped_affine[:3, 0] = -affine[:3, 0]
    a, b = classifier.run((array, affine)), classifier.run((array[::-1].copy(), flipped_affine))
    assert a.probabilities == pytest.approx(b.probabilities, abs=1e-5)
    np.testing.assert_allclose(
        a.maps["heatmap"].as_tensor()[0].numpy(), b.maps["heatmap"].as_tensor()[0].numpy()[::-1], atol=1e-4
    )


def test_probabilities_match_the_bundle_pipeline(classifier: BundleRunner) -> None:
    """On a native 64^3 case the recipe is an exact crop: the training pipeline's input, shifted to put the gland's
    centre of mass within half a voxel of index 32.5 (most cases are already there: no shift at all)."""
    npz = require_data("medmnist3d/adrenalmnist3d_64_trainval.npz")
    from monai_ext.data.npz import load_npz_split
    from monai_ext.transforms import MaskDistance

    images, _ = load_npz_split(npz, "val")
    network = classifier.bundle.network
    shifts = []
    for raw in images[:6]:
        mask = (raw > 127).astype(np.float32)
        shift = np.round(np.argwhere(mask).mean(axis=0) - 32.5).astype(int)
        shifts.append(tuple(shift))
        moved = np.zeros_like(mask)
        src = tuple(slice(max(s, 0), 64 + min(s, 0)) for s in shift)
        dst = tuple(slice(max(-s, 0), 64 + min(-s, 0)) for s in shift)
        moved[dst] = mask[src]
        result = classifier.run((raw.astype(np.float32), np.eye(4)))
        with torch.no_grad():
            x = MaskDistance(max_distance=6)(torch.from_numpy(moved)[None])[None]
            expected = torch.softmax(network(x), dim=1)[0]
        assert result.probabilities == pytest.approx(expected.tolist(), abs=1e-5)
    assert (0, 0, 0) in shifts and any(s != (0, 0, 0) for s in shifts)  # both paths were exercised


def test_bad_inputs_get_typed_errors(classifier: BundleRunner, tmp_path: Path) -> None:
    nan = np.zeros((16, 16, 16), np.float32)
    nan[3, 3, 3] = np.nan
    with pytest.raises(BundleInputError, match="NaN"):
        classifier.run((nan, np.eye(4)))
    with pytest.raises(BundleInputError, match="3D volume"):
        classifier.run((np.zeros((16, 16), np.float32), np.eye(4)))
    with pytest.raises(BundleInputError, match="affine"):
        classifier.run((np.zeros((16, 16, 16), np.float32), np.zeros((4, 4))))
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"not a nifti")
    with pytest.raises(BundleInputError, match=str(broken)):
        classifier.run(broken)


def test_autoencoder_outputs_on_the_input_grid(mask_nifti: tuple) -> None:
    path, array, affine = mask_nifti
    result = BundleRunner(AUTOENCODER, device="cpu").run(path)
    assert set(result.maps) == {"reconstruction", "anomaly_map"}
    for volume in result.maps.values():
        assert tuple(volume.shape) == (1, *array.shape)
        np.testing.assert_allclose(np.asarray(volume.affine), affine, atol=1e-5)
    assert 0.0 <= float(result.maps["anomaly_map"].min()) <= float(result.maps["anomaly_map"].max()) <= 1.0
    assert np.isfinite(result.scalars["anomaly_score"]) and not result.probabilities
    # the thickness-aware score: the same shape made thinner scores lower (hyperplasia is a thickening)
    thin = ellipsoid_mask((40, 48, 30), (9.0, 14.0, 2.5))
    assert (
        BundleRunner(AUTOENCODER, device="cpu").run((thin, affine)).scalars["anomaly_score"]
        < result.scalars["anomaly_score"]
    )


def test_gan_generates_reproducibly() -> None:
    runner = BundleRunner(GAN, device="cpu")
    a, b, c = runner.generate(seed=1), runner.generate(seed=1), runner.generate(seed=2)
    torch.testing.assert_close(a.maps["image"].as_tensor(), b.maps["image"].as_tensor())
    assert not torch.equal(a.maps["image"].as_tensor(), c.maps["image"].as_tensor())
    assert tuple(a.maps["image"].shape) == (1, 32, 32, 32)


def test_worker_contract_writes_files(mask_nifti: tuple, tmp_path: Path) -> None:
    path, _, affine = mask_nifti
    stages: list[str] = []
    result = run_bundle(
        {"bundlePath": str(CLASSIFIER), "inputPath": str(path), "outputDir": str(tmp_path / "out"), "device": "cpu"},
        lambda stage, fraction, message: stages.append(stage),
    )
    assert result["classNames"] == ["normal", "hyperplasia"] and len(result["probabilities"]) == 2
    heatmap = Path(result["maps"]["heatmap"])
    import nibabel as nib

    np.testing.assert_allclose(nib.load(heatmap).affine, affine, atol=1e-5)
    assert Path(result["montages"]["heatmap"]).stat().st_size > 1000
    assert (tmp_path / "out" / "result.json").is_file()
    assert stages[0] == "bundle" and "heatmap" in stages and stages[-1] == "write"


def test_one_pass_for_prediction_and_grad_cam_matches_two_passes(classifier: BundleRunner, mask_nifti: tuple) -> None:
    """Without a target class the prediction comes from the Grad-CAM pass itself; it must equal a separate forward."""
    path, _, _ = mask_nifti
    shared = classifier.run(path)
    predicted = max(range(2), key=shared.probabilities.__getitem__)
    separate = classifier.run(path, target_class=predicted)  # explicit class: forward, then Grad-CAM
    assert shared.timings["forward"] == 0.0 and separate.timings["forward"] > 0.0
    assert shared.probabilities == pytest.approx(separate.probabilities, abs=1e-6)
    torch.testing.assert_close(shared.maps["heatmap"].as_tensor(), separate.maps["heatmap"].as_tensor())


def test_gan_realism_map_on_an_input_volume(mask_nifti: tuple, tmp_path: Path) -> None:
    """A GAN bundle on a volume: the discriminator's Grad-CAM in the input's grid, as the bundle's own workflow."""
    from monai_ext.engines.gan.realism import realism_map
    from monai_ext.networks import Discriminator

    path, array, affine = mask_nifti
    runner = BundleRunner(GAN, device="cpu")
    result = runner.run(path)
    assert set(result.maps) == {"realism_map"} and "realism_logit" in result.scalars
    realism = result.maps["realism_map"]
    assert tuple(realism.shape) == (1, *array.shape)
    np.testing.assert_allclose(np.asarray(realism.affine), affine, atol=1e-5)
    # a 32^3 volume on a 2 mm RAS grid whose centre of mass is voxel 16 is already the recipe's cube: the runner's
    # map is then the bundle workflow's map of the volume itself
    grid = np.meshgrid(*[np.arange(32) - 16.0] * 3, indexing="ij")
    cube = ((grid[0] / 7) ** 2 + (grid[1] / 10) ** 2 + (grid[2] / 5) ** 2 <= 1).astype(np.float32)
    ras = runner.run((cube, np.diag([2.0, 2.0, 2.0, 1.0])))
    discriminator = Discriminator(spatial_dims=3, in_channels=1, channels=(16, 32, 64), spatial_size=32)
    discriminator.load_state_dict(torch.load(GAN / "models" / "discriminator.pt", weights_only=True))
    expected = realism_map(discriminator.eval(), torch.as_tensor(cube), spatial_size=(32, 32, 32))
    torch.testing.assert_close(ras.maps["realism_map"].as_tensor()[0], expected, atol=1e-4, rtol=1e-4)
    summary = run_bundle(
        {"bundlePath": str(GAN), "inputPath": str(path), "outputDir": str(tmp_path / "gan"), "device": "cpu"}
    )
    assert set(summary["maps"]) == {"image", "realism_map"} and summary["heatmaps"] == ["realism_map"]


def test_cuda_out_of_memory_falls_back_to_cpu_with_a_warning(
    mask_nifti: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Simulated here (no GPU): the first attempt raises CUDA OOM, the run is repeated on the CPU and says so."""
    path, _, _ = mask_nifti
    runner = BundleRunner(GAN, device="cpu")
    runner.run(path)  # loads the discriminator, which must move to the CPU too
    real_run, calls = runner._run, []

    def first_fails(*args: object) -> object:
        calls.append(runner.device.type)
        if len(calls) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_run(*args)

    monkeypatch.setattr(runner, "_run", first_fails)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    runner.device = torch.device("cuda")
    with pytest.warns(UserWarning, match="running on the CPU"):
        result = runner.run(path)
    assert calls == ["cuda", "cpu"] and runner.device.type == "cpu"
    assert "CUDA ran out of memory; running on the CPU instead" in result.warnings
    assert "realism_map" in result.maps
