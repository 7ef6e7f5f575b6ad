"""Sample-quality metrics for generative models: Frechet distance, k-NN precision/recall/density/coverage,
pairwise MS-SSIM, and feature extraction with an in-project 3D network.

Feature arrays are ``(N, F)`` (one row per volume). Everything is computed in float64 numpy except the
network and MS-SSIM passes (torch).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from monai.metrics import MultiScaleSSIMMetric

__all__ = [
    "MS_SSIM_WEIGHTS_3",
    "extract_features",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_from_features",
    "pairwise_ms_ssim",
    "prdc",
    "sqrtm_psd",
]

#: The first three of MS-SSIM's five standard scale weights (Wang et al. 2003), renormalised: three scales fit
#: 32^3 volumes with a 7-voxel kernel.
MS_SSIM_WEIGHTS_3 = (0.0711, 0.4530, 0.4759)


def feature_statistics(features: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(F,)`` and unbiased covariance ``(F, F)`` of ``(N, F)`` features (float64; needs ``N >= 2``)."""
    x = _as_features(features)
    if len(x) < 2:
        raise ValueError(f"need at least 2 feature vectors, got {len(x)}")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix by eigendecomposition (negative eigenvalues from
    rounding are clipped to 0), so the result is real and symmetric."""
    sym = (np.asarray(matrix, dtype=np.float64) + np.asarray(matrix, dtype=np.float64).T) / 2
    values, vectors = np.linalg.eigh(sym)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Frechet (2-Wasserstein) distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)``, squared as in FID:

    ``|mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^(1/2))``.

    ``tr((sigma1 sigma2)^(1/2))`` is computed as ``tr((s sigma2 s)^(1/2))`` with ``s = sigma1^(1/2)``: the
    same value (similar matrices), but the argument is symmetric PSD, so the root is real and stable even for
    singular covariances (fewer samples than features), unlike ``scipy.linalg.sqrtm`` of the product.

    Example:
        >>> round(frechet_distance(np.zeros(2), np.eye(2), np.ones(2), 4 * np.eye(2)), 6)
        4.0
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"shapes disagree: mu {mu1.shape}/{mu2.shape}, sigma {sigma1.shape}/{sigma2.shape}")
    root1 = sqrtm_psd(sigma1)
    middle = np.linalg.eigvalsh((root1 @ sigma2 @ root1 + (root1 @ sigma2 @ root1).T) / 2)
    cross = float(np.sqrt(np.clip(middle, 0, None)).sum())
    value = float(np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * cross)
    return max(value, 0.0)


def frechet_distance_from_features(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """:func:`frechet_distance` between Gaussians fitted to two ``(N, F)`` feature sets."""
    return frechet_distance(*feature_statistics(a), *feature_statistics(b))


def prdc(real: np.ndarray | torch.Tensor, fake: np.ndarray | torch.Tensor, *, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage in feature space (Naeem et al., ICML 2020).

    Each point's k-NN ball (radius = distance to its ``k``-th nearest neighbour in its own set) approximates the
    set's manifold. Precision: fraction of fake points inside some real ball (fidelity). Recall: fraction of
    real points inside some fake ball (diversity: it collapses towards 0 when the fakes collapse to few modes).
    Density: mean number of real balls holding a fake point, over ``k`` (about 1 for matching sets). Coverage:
    fraction of real balls holding at least one fake point (diversity, robust to outliers).

    Args:
        real: ``(N, F)`` reference features.
        fake: ``(M, F)`` features to assess.
        k: neighbourhood size (``k < N`` and ``k < M``).

    Returns:
        ``{"precision", "recall", "density", "coverage"}``.
    """
    r, f = _as_features(real), _as_features(fake)
    if k < 1 or k >= min(len(r), len(f)):
        raise ValueError(f"k must be in [1, min(N, M) - 1] = [1, {min(len(r), len(f)) - 1}], got {k}")
    r_radius = _kth_neighbour_distance(r, k)
    f_radius = _kth_neighbour_distance(f, k)
    cross = _distances(r, f)  # (N, M)
    inside_real = cross <= r_radius[:, None]  # fake j inside real ball i
    inside_fake = cross <= f_radius[None, :]  # real i inside fake ball j
    return {
        "precision": float(inside_real.any(axis=0).mean()),
        "recall": float(inside_fake.any(axis=1).mean()),
        "density": float(inside_real.sum(axis=0).mean() / k),
        "coverage": float((cross.min(axis=1) <= r_radius).mean()),
    }


def pairwise_ms_ssim(
    images: torch.Tensor,
    *,
    num_pairs: int = 200,
    seed: int = 0,
    kernel_size: int = 7,
    kernel_sigma: float = 1.0,
    weights: Sequence[float] = MS_SSIM_WEIGHTS_3,
    batch_size: int = 50,
) -> float:
    """Mean MS-SSIM over random pairs of distinct samples of one set (1 = all alike; lower = more diverse).

    Args:
        images: ``(N, C, D, H, W)`` (or 2D) in [0, 1], ``N >= 2``.
        num_pairs: pairs drawn (all pairs when fewer exist).
        seed: seed of the pair draw.
        kernel_size: Gaussian window (the side at the coarsest scale must exceed ``kernel_size - 1``).
        kernel_sigma: Gaussian sigma in voxels.
        weights: scale weights (their number is the number of scales).
        batch_size: pairs per MS-SSIM call.
    """
    n = len(images)
    if n < 2:
        raise ValueError(f"need at least 2 images, got {n}")
    i, j = _pairs(n, num_pairs, seed)
    metric = MultiScaleSSIMMetric(
        spatial_dims=images.ndim - 2,
        data_range=1.0,
        kernel_size=kernel_size,
        kernel_sigma=kernel_sigma,
        weights=tuple(weights),
    )
    values = []
    x = images.float()
    for start in range(0, len(i), batch_size):
        a, b = x[i[start : start + batch_size]], x[j[start : start + batch_size]]
        values.append(torch.as_tensor(metric(a, b)).reshape(-1))
    return float(torch.cat(values).mean())


@torch.no_grad()
def extract_features(
    network: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    *,
    spatial_size: Sequence[int] | None = None,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Globally average-pooled feature maps of ``network`` (e.g. a classifier's ``backbone``).

    Args:
        network: ``(B, C, *spatial) -> (B, F, *spatial')`` (in eval mode).
        images: ``(N, C, *spatial)``.
        spatial_size: resize to this shape first (trilinear), e.g. the network's training input size.
        batch_size: volumes per forward pass.
        device: where to run.

    Returns:
        ``(N, F)`` float64 features.
    """
    rows = []
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].to(device).float()
        if spatial_size is not None and tuple(x.shape[2:]) != tuple(spatial_size):
            mode = "trilinear" if x.ndim == 5 else "bilinear"
            x = F.interpolate(x, size=tuple(spatial_size), mode=mode, align_corners=False)
        out = network(x)
        rows.append(out.flatten(2).mean(dim=2).double().cpu() if out.ndim > 2 else out.double().cpu())
    return torch.cat(rows).numpy()


def _as_features(x: np.ndarray | torch.Tensor) -> np.ndarray:
    array = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    array = array.astype(np.float64)
    if array.ndim != 2:
        raise ValueError(f"features must be (N, F), got shape {array.shape}")
    return array


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.clip(squared, 0, None))


def _kth_neighbour_distance(x: np.ndarray, k: int) -> np.ndarray:
    """Distance of each row to its k-th nearest other row (the row itself excluded)."""
    d = _distances(x, x)
    np.fill_diagonal(d, np.inf)
    return np.partition(d, k - 1, axis=1)[:, k - 1]


def _pairs(n: int, num_pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    i_all, j_all = np.triu_indices(n, k=1)
    if len(i_all) <= num_pairs:
        return i_all, j_all
    pick = np.random.default_rng(seed).choice(len(i_all), size=num_pairs, replace=False)
    return i_all[pick], j_all[pick]
