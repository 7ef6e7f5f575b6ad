"""Frechet distance, precision/recall/density/coverage, pairwise MS-SSIM and feature extraction."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from monai_ext.metrics import (
    extract_features,
    feature_statistics,
    frechet_distance,
    frechet_distance_from_features,
    pairwise_ms_ssim,
    prdc,
)
from monai_ext.metrics.generative import sqrtm_psd


def _random_spd(rng: np.random.Generator, n: int) -> np.ndarray:
    a = rng.normal(size=(n, n))
    return a @ a.T + 0.1 * np.eye(n)


def test_identical_feature_sets_have_zero_distance() -> None:
    x = np.random.default_rng(0).normal(size=(50, 8))
    assert frechet_distance_from_features(x, x) == pytest.approx(0.0, abs=1e-8)
    # fewer samples than features: singular covariance, still 0 and finite
    y = np.random.default_rng(1).normal(size=(5, 16))
    assert frechet_distance_from_features(y, y) == pytest.approx(0.0, abs=1e-8)


def test_closed_form_for_diagonal_gaussians() -> None:
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 1.0, 1.0])
    # sum (mu diff)^2 + sum (sqrt(a) - sqrt(b))^2 for commuting covariances
    expected = 1 + 0 + 4 + (1 - 2) ** 2 + (2 - 1) ** 2 + (3 - 1) ** 2
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected)


def test_general_covariances_match_the_product_form() -> None:
    rng = np.random.default_rng(2)
    s1, s2 = _random_spd(rng, 6), _random_spd(rng, 6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    # tr sqrt(s1 s2) = sum of sqrt of the (real, positive) eigenvalues of s1 s2
    cross = np.sqrt(np.linalg.eigvals(s1 @ s2).real).sum()
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * cross
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(frechet_distance(mu2, s2, mu1, s1), rel=1e-9)


def test_sample_estimate_approaches_the_population_value() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(20000, 2))
    b = rng.normal(size=(20000, 2)) * 2 + np.array([3.0, 0.0])
    # N(0, I) vs N((3, 0), 4I): 9 + 2 * (2 - 1)^2 = 11
    assert frechet_distance_from_features(a, b) == pytest.approx(11.0, rel=0.03)


def test_sqrtm_psd_squares_back() -> None:
    s = _random_spd(np.random.default_rng(4), 5)
    root = sqrtm_psd(s)
    np.testing.assert_allclose(root @ root, s, rtol=1e-9, atol=1e-9)
    mu, cov = feature_statistics(np.random.default_rng(5).normal(size=(10, 3)))
    assert mu.shape == (3,) and cov.shape == (3, 3)


def test_prdc_matching_sets_and_collapsed_fakes() -> None:
    rng = np.random.default_rng(6)
    real = rng.normal(size=(300, 4))
    same = prdc(real, rng.normal(size=(300, 4)), k=5)
    assert same["precision"] > 0.8 and same["recall"] > 0.8 and same["coverage"] > 0.8
    assert 0.7 < same["density"] < 1.3
    collapsed = prdc(real, np.repeat(real[:1], 300, axis=0), k=5)  # identical samples: no diversity
    assert collapsed["recall"] < 0.02 and collapsed["coverage"] < 0.05
    far = prdc(real, rng.normal(size=(300, 4)) + 100, k=5)
    assert far["precision"] == 0 and far["coverage"] == 0


def test_pairwise_ms_ssim_identical_samples_are_not_diverse() -> None:
    x = torch.rand(1, 1, 32, 32, 32)
    assert pairwise_ms_ssim(x.repeat(4, 1, 1, 1, 1)) == pytest.approx(1.0, abs=1e-4)
    assert pairwise_ms_ssim(torch.rand(6, 1, 32, 32, 32), num_pairs=5) < 0.5
    with pytest.raises(ValueError, match="at least 2"):
        pairwise_ms_ssim(x)


def test_extract_features_pools_and_resizes() -> None:
    net = nn.Conv3d(1, 3, 1, bias=False)
    nn.init.ones_(net.weight)
    images = torch.full((5, 1, 8, 8, 8), 0.5)
    feats = extract_features(net, images, spatial_size=(16, 16, 16), batch_size=2)
    assert feats.shape == (5, 3) and feats.dtype == np.float64
    np.testing.assert_allclose(feats, 0.5)
