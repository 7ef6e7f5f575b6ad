"""Percentile bootstrap intervals: coverage, pairing, reproducibility, undefined resamples and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from monai_ext.metrics import bootstrap_ci, roc_auc


def test_interval_of_a_mean_matches_the_normal_approximation() -> None:
    values = np.random.default_rng(1).normal(0.89, 0.03, 400)
    low, high = bootstrap_ci(np.mean, values, resamples=4000)
    half = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    assert low < values.mean() < high
    assert (high - low) / 2 == pytest.approx(half, rel=0.1)


def test_constant_cases_give_a_point() -> None:
    assert bootstrap_ci(np.mean, np.full(30, 0.9)) == pytest.approx((0.9, 0.9))


def test_same_seed_same_interval_other_seed_other() -> None:
    values = np.random.default_rng(2).random(30)
    assert bootstrap_ci(np.mean, values, seed=3) == bootstrap_ci(np.mean, values, seed=3)
    assert bootstrap_ci(np.mean, values, seed=3) != bootstrap_ci(np.mean, values, seed=4)


def test_pairing_removes_the_shared_case_variation() -> None:
    """Two scores that differ by a constant on every case: the paired difference has no spread, each score has."""
    a = np.random.default_rng(5).normal(0.85, 0.05, 30)
    b = a + 0.01
    assert bootstrap_ci(lambda x, y: float(np.mean(y - x)), a, b) == pytest.approx((0.01, 0.01))
    low, high = bootstrap_ci(np.mean, b)
    assert high - low > 0.02  # the case-to-case spread that pairing cancels


def test_auc_resamples_without_both_classes_are_left_out() -> None:
    labels = np.array([0] * 28 + [1, 1])
    scores = np.linspace(0, 1, 30)

    def auc(y: np.ndarray, s: np.ndarray) -> float:
        return roc_auc(y, s) if 0 < y.sum() < len(y) else float("nan")

    low, high = bootstrap_ci(auc, labels, scores, resamples=500)
    assert 0.9 <= low <= high == pytest.approx(1.0)
    assert all(np.isnan(bootstrap_ci(lambda y: float("nan"), labels)))  # never defined: no interval


@pytest.mark.parametrize(
    ("samples", "kwargs", "match"),
    [
        ((), {}, "at least one array"),
        ((np.ones(3), np.ones(4)), {}, "same number of cases"),
        ((np.ones(0),), {}, "same number of cases"),
        ((np.ones(3),), {"level": 1.0}, "level"),
        ((np.ones(3),), {"resamples": 10}, "resamples"),
    ],
)
def test_bad_input_is_refused(samples: tuple, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        bootstrap_ci(np.mean, *samples, **kwargs)
