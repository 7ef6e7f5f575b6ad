"""Percentile bootstrap confidence intervals over cases (a mean Dice, an AUC, or a paired difference of two).

A test set of 30 cases gives a mean Dice whose sampling error is a point or more; an interval says how far a
benchmark number can be trusted, and a *paired* interval (the same resampled cases for both scores) says whether
two models or two inputs really differ.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["bootstrap_ci", "paired_difference"]


def bootstrap_ci(
    statistic: Callable[..., float],
    *samples: Any,
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(*samples)``, resampling cases with replacement.

    Every sample is indexed by the same resampled cases, so paired scores stay paired (for example the labels and
    the scores of an AUC, or the per-case Dice of two models for their difference).

    Args:
        statistic: ``f(*arrays) -> float``; a resample where it is not defined (an AUC without both classes) may
            return NaN and is left out.
        samples: one or more ``(N, ...)`` arrays of the same ``N`` cases.
        level: coverage, between 0 and 1.
        resamples: number of bootstrap resamples (at least 100).
        seed: seed of the resampling (the interval is reproducible).

    Returns:
        ``(low, high)``; ``(nan, nan)`` when no resample gives a finite statistic.

    Raises:
        ValueError: no samples, samples of different lengths or without cases, ``level`` outside (0, 1), or fewer
            than 100 resamples.

    Example:
        >>> low, high = bootstrap_ci(np.mean, np.array([0.8, 0.85, 0.9, 0.95]))
        >>> 0.8 <= low < 0.875 < high <= 0.95
        True
    """
    arrays = [np.asarray(s) for s in samples]
    if not arrays or any(a.ndim == 0 for a in arrays):
        raise ValueError("bootstrap_ci needs at least one array of cases")
    n = len(arrays[0])
    if n == 0 or any(len(a) != n for a in arrays):
        raise ValueError(f"samples must hold the same number of cases (> 0), got {[len(a) for a in arrays]}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie between 0 and 1, got {level}")
    if resamples < 100:
        raise ValueError(f"resamples must be at least 100, got {resamples}")
    rng = np.random.default_rng(seed)
    stats = np.empty(resamples, dtype=np.float64)
    for r in range(resamples):
        idx = rng.integers(0, n, n)
        stats[r] = float(statistic(*(a[idx] for a in arrays)))
    stats = stats[np.isfinite(stats)]
    if stats.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(stats, [tail, 1.0 - tail])
    return float(low), float(high)


def paired_difference(a: Any, b: Any, *, level: float = 0.95, resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """``b - a`` on the same cases: the mean difference, its paired bootstrap interval and how often ``b`` wins.

    Cases where either score is NaN are left out (a label absent from both prediction and reference).

    Args:
        a: ``(N,)`` scores of the reference (for example per-case Dice of the shipped model).
        b: ``(N,)`` scores of the candidate on the same cases, in the same order.
        level, resamples, seed: as in :func:`bootstrap_ci`.

    Returns:
        ``{"n", "mean_a", "mean_b", "difference", "interval": [low, high], "b_better", "a_better"}``.

    Raises:
        ValueError: ``a`` and ``b`` hold different numbers of cases, or no case has both scores.

    Example:
        >>> r = paired_difference(np.array([0.80, 0.85, 0.90]), np.array([0.81, 0.86, 0.91]))
        >>> round(r["difference"], 3), [round(x, 3) for x in r["interval"]], r["b_better"]
        (0.01, [0.01, 0.01], 3)
    """
    x, y = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"paired scores need the same cases, got {x.size} and {y.size}")
    keep = np.isfinite(x) & np.isfinite(y)
    if not keep.any():
        raise ValueError("no case has a finite score in both")
    x, y = x[keep], y[keep]
    low, high = bootstrap_ci(np.mean, y - x, level=level, resamples=resamples, seed=seed)
    return {
        "n": int(x.size),
        "mean_a": float(x.mean()),
        "mean_b": float(y.mean()),
        "difference": float(np.mean(y - x)),
        "interval": [low, high],
        "b_better": int((y > x).sum()),
        "a_better": int((x > y).sum()),
    }
