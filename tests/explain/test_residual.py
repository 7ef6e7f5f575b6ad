"""Residual anomaly maps: range, zeros for a perfect reconstruction, a defect is the maximum, input geometry kept."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from monai_ext.engines import inference_cases, to_input_grid, write_anomaly_report
from monai_ext.engines.reports.anomaly import case_scores
from monai_ext.explain import anomaly_score, residual, residual_map, residual_scale


def _blob(size: int = 24) -> torch.Tensor:
    grid = torch.stack(torch.meshgrid(*[torch.arange(size)] * 3, indexing="ij")).float()
    return ((grid - size / 2).pow(2).sum(0) < (size / 4) ** 2).float()[None, None]


def test_identical_input_gives_a_zero_map() -> None:
    x = _blob()
    amap = residual_map(x, x.clone(), sigma=1.5, scale=0.3)
    assert amap.shape == x.shape
    assert float(amap.abs().max()) == 0.0


@pytest.mark.parametrize("sigma", [0.0, 1.0, 2.0])
def test_map_range_and_the_defect_is_its_maximum(sigma: float) -> None:
    """The maximum lies in the 3^3 defect (which voxel depends on the reconstruction noise)."""
    torch.manual_seed(0)
    x = _blob()
    recon = (x + 0.05 * torch.rand_like(x)).clamp(0, 1)  # a slightly noisy reconstruction
    defect = (4, 18, 6)
    x[0, 0, defect[0] - 1 : defect[0] + 2, defect[1] - 1 : defect[1] + 2, defect[2] - 1 : defect[2] + 2] = 1.0
    amap = residual_map(x, recon, sigma=sigma, scale=0.5)
    assert float(amap.min()) >= 0.0 and float(amap.max()) <= 1.0
    peak = np.unravel_index(int(amap[0, 0].argmax()), amap.shape[2:])
    assert max(abs(int(i) - d) for i, d in zip(peak, defect, strict=True)) <= 1


def test_scale_saturates_and_scores_rank_the_defect_higher() -> None:
    x = _blob()
    bad = x.clone()
    bad[0, 0, 2:8, 2:8, 2:8] = 1.0
    assert float(residual_map(bad, x, sigma=0.0, scale=0.5).max()) == 1.0
    both_in = torch.cat([x, bad])
    both_rec = torch.cat([x, x])
    mean = anomaly_score(residual(both_in, both_rec, sigma=0.0))
    top = anomaly_score(residual(both_in, both_rec, sigma=1.0), top_fraction=0.01)
    assert mean[0] == 0 and mean[1] > 0 and top[1] > top[0]
    assert residual_scale([0.1, 0.2, 0.3, 0.4], percentile=100) == pytest.approx(0.4)


def test_wrong_arguments_raise() -> None:
    x = _blob(8)
    with pytest.raises(ValueError, match="differ"):
        residual(x, x[..., :4])
    with pytest.raises(ValueError, match="positive"):
        residual_map(x, x, scale=0.0)
    with pytest.raises(ValueError, match="top_fraction"):
        anomaly_score(x, top_fraction=0.0)


def test_report_files(tmp_path: Path) -> None:
    x = torch.cat([_blob(16)] * 4)
    recon = x.clone()
    recon[2:, 0, 2:6, 2:6, 2:6] = 1.0  # the abnormal cases reconstruct worse
    values = case_scores(x, recon, sigma=1.0, top_fraction=0.01)
    labels = np.array([0, 0, 1, 1])
    metrics = write_anomaly_report(tmp_path, case_ids=list("abcd"), labels=labels, values=values, score="top")
    assert metrics["auroc"] == 1.0 and metrics["auprc"] == 1.0
    assert json.loads((tmp_path / "metrics.json").read_text())["scores"]["mean"]["auroc"] == 1.0
    assert (tmp_path / "score_histogram.png").stat().st_size > 1000
    assert (tmp_path / "cases.csv").read_text().splitlines()[0].startswith("case_id,label,score_mean")


def test_map_returns_to_the_input_grid_and_affine(tmp_path: Path) -> None:
    # an LPS-oriented, anisotropic, non-cubic input: the network sees it as RAS 16^3
    affine = np.array([[-0.8, 0, 0, 40.0], [0, -0.8, 0, 20.0], [0, 0, 2.5, -30.0], [0, 0, 0, 1]])
    array = np.zeros((20, 24, 10), dtype=np.float32)
    array[3:6, 15:20, 2:4] = 1.0  # an off-centre block: its position tells whether flips were undone
    path = tmp_path / "case.nii.gz"
    nib.save(nib.Nifti1Image(array, affine), path)
    case = inference_cases(path, "test", spatial_size=(16, 16, 16))[0]
    assert case["image"].shape == (1, 16, 16, 16)
    assert tuple(case["original_shape"].tolist()) == array.shape
    np.testing.assert_allclose(case["original_affine"].numpy(), affine)
    back = to_input_grid(case["image"], original_shape=array.shape, original_affine=affine)
    assert back.shape == (1, *array.shape)
    inside, outside = back[0][array > 0].mean(), back[0][array == 0].mean()
    assert inside > 0.5 > outside  # the block came back where it was


def test_npz_cases_get_an_identity_affine(tmp_path: Path) -> None:
    path = tmp_path / "tiny.npz"
    images = np.zeros((3, 8, 8, 8), dtype=np.uint8)
    images[:, 2:5, 2:5, 2:5] = 255
    np.savez(path, val_images=images, val_labels=np.array([[0], [1], [0]]))
    dataset = inference_cases(path, "val", spatial_size=(16, 16, 16), limit=2)
    assert len(dataset) == 2 and dataset[1]["label"] == 1
    np.testing.assert_array_equal(dataset[0]["original_affine"].numpy(), np.eye(4))
    back = to_input_grid(dataset[0]["image"], original_shape=(8, 8, 8), original_affine=np.eye(4))
    assert back.shape == (1, 8, 8, 8)


def test_signed_score_measures_enlargement() -> None:
    """The normal-trained autoencoder reconstructs a normal-sized gland: more input than output is positive."""
    from monai_ext.explain import signed_residual_score

    normal = torch.zeros(1, 1, 12, 12, 12)
    normal[..., 4:8, 4:8, 4:8] = 1.0
    enlarged = torch.zeros_like(normal)
    enlarged[..., 3:9, 3:9, 3:9] = 1.0
    shrunken = torch.zeros_like(normal)
    shrunken[..., 5:7, 5:7, 5:7] = 1.0
    scores = signed_residual_score(torch.cat([enlarged, normal, shrunken]), torch.cat([normal] * 3))
    assert scores[0] > 0 and scores[1] == 0 and scores[2] < 0
    assert scores[0] == pytest.approx((216 - 64) / 12**3)
    values = case_scores(torch.cat([normal, enlarged]), torch.cat([normal, normal]), sigma=1.0, top_fraction=0.01)
    assert values["signed"].tolist() == pytest.approx([0.0, (216 - 64) / 12**3])
