"""Average precision (AUPRC) and anomaly metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np

from monai_ext.metrics import anomaly_metrics, average_precision, precision_recall_curve


def test_average_precision_by_hand() -> None:
    # ranking by score: 0.9 (pos), 0.8 (neg), 0.7 (pos), 0.2 (neg), 0.1 (pos)
    labels = np.array([1, 0, 1, 0, 1])
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.1])
    # recall steps of 1/3 at precisions 1/1, 2/3, 3/5
    expected = (1.0 + 2 / 3 + 3 / 5) / 3
    assert math.isclose(average_precision(labels, scores), expected)


def test_ties_are_one_threshold() -> None:
    labels = np.array([1, 0, 1, 0])
    scores = np.array([0.5, 0.5, 0.2, 0.1])
    precision, recall = precision_recall_curve(labels, scores)
    np.testing.assert_allclose(precision, [0.5, 2 / 3, 0.5])
    np.testing.assert_allclose(recall, [0.5, 1.0, 1.0])
    assert math.isclose(average_precision(labels, scores), 0.5 * 0.5 + 0.5 * 2 / 3)


def test_perfect_random_and_degenerate() -> None:
    assert average_precision(np.array([0, 0, 1]), np.array([0.1, 0.2, 0.9])) == 1.0
    assert math.isnan(average_precision(np.array([0, 0]), np.array([0.1, 0.2])))
    metrics = anomaly_metrics(np.array([0, 0, 1, 1, -1]), np.array([0.1, 0.4, 0.35, 0.8, 5.0]))
    assert metrics["n"] == 4 and metrics["n_abnormal"] == 2 and metrics["prevalence"] == 0.5
    assert metrics["auroc"] == 0.75
    assert math.isclose(metrics["auprc"], 0.5 * 1.0 + 0.5 * 2 / 3)
