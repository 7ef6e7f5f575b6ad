"""ROC AUC against the pairwise definition, ROC curve and the metric dictionary."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monai_ext.metrics import classification_metrics, roc_auc, roc_curve


def _pairwise_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 5)), min_size=2, max_size=40))
def test_auc_equals_the_pairwise_definition_with_ties(pairs: list[tuple[bool, int]]) -> None:
    labels = np.array([p[0] for p in pairs], dtype=int)
    scores = np.array([p[1] for p in pairs], dtype=float)
    if labels.min() == labels.max():
        assert np.isnan(roc_auc(labels, scores))
        return
    assert roc_auc(labels, scores) == pytest.approx(_pairwise_auc(labels, scores))
    fpr, tpr = roc_curve(labels, scores)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0)
    assert np.all(np.diff(tpr) >= 0)
    assert np.trapezoid(tpr, fpr) == pytest.approx(roc_auc(labels, scores))


def test_classification_metrics_binary() -> None:
    labels = np.array([0, 0, 0, 1, 1, -1])
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.6, 0.4], [0.5, 0.5]])
    m = classification_metrics(labels, probs)
    assert m["n"] == 5
    assert m["confusion"] == [[2, 1], [1, 1]]
    assert m["acc"] == pytest.approx(3 / 5)
    assert m["sensitivity"] == pytest.approx(0.5)
    assert m["specificity"] == pytest.approx(2 / 3)
    assert m["balanced_acc"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert m["auc"] == pytest.approx(_pairwise_auc(labels[:5], probs[:5, 1]))


def test_classification_metrics_multiclass_is_macro_ovr() -> None:
    labels = np.array([0, 1, 2, 2])
    probs = np.eye(3)[[0, 1, 2, 2]] * 0.9 + 0.1 / 3
    m = classification_metrics(labels, probs)
    assert m["acc"] == 1.0
    assert m["auc"] == 1.0
    assert "sensitivity" not in m
