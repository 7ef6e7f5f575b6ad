"""Binary and multi-class classification metrics from labels and predicted probabilities."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["classification_metrics", "roc_auc", "roc_curve"]


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for ``labels == 1`` (Mann-Whitney U, ties counted half).

    Args:
        labels: ``(N,)`` of 0/1.
        scores: ``(N,)`` higher = more likely positive.

    Returns:
        AUC in [0, 1], or NaN when one class is absent.

    Example:
        >>> roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
        0.75
    """
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(np.asarray(scores, dtype=np.float64))
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing their mean rank."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts  # 0-based rank of each unique value's first occurrence
    return (first + (counts + 1) / 2.0)[inverse]


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates at every distinct threshold, from (0, 0) to (1, 1)."""
    labels = np.asarray(labels).astype(bool)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    sorted_scores, sorted_labels = np.asarray(scores)[order], labels[order]
    last_of_threshold = np.r_[np.diff(sorted_scores) != 0, True]
    tp = np.cumsum(sorted_labels)[last_of_threshold]
    fp = np.cumsum(~sorted_labels)[last_of_threshold]
    tpr = np.r_[0.0, tp / max(int(labels.sum()), 1)]
    fpr = np.r_[0.0, fp / max(int((~labels).sum()), 1)]
    return fpr, tpr


def classification_metrics(labels: np.ndarray, probs: np.ndarray, *, positive: int = 1) -> dict[str, Any]:
    """Metrics of predicted class probabilities against integer labels.

    Args:
        labels: ``(N,)`` integer labels (cases with a negative label are ignored: unknown).
        probs: ``(N, C)`` class probabilities; the prediction is the arg-max.
        positive: the positive class for sensitivity/specificity and the binary AUC.

    Returns:
        ``n``, ``n_per_class``, ``acc``, ``balanced_acc``, ``auc`` (binary: of ``probs[:, positive]``;
        multi-class: macro one-vs-rest), ``confusion`` (rows = true class), and for two classes
        ``sensitivity`` and ``specificity``.
    """
    labels = np.asarray(labels).astype(np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    known = labels >= 0
    labels, probs = labels[known], probs[known]
    n_classes = probs.shape[1]
    pred = probs.argmax(1)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (labels, pred), 1)
    recall = [confusion[c, c] / confusion[c].sum() for c in range(n_classes) if confusion[c].sum()]
    aucs = [roc_auc(labels == c, probs[:, c]) for c in range(n_classes)]
    result: dict[str, Any] = {
        "n": len(labels),
        "n_per_class": confusion.sum(1).tolist(),
        "acc": float((pred == labels).mean()) if len(labels) else float("nan"),
        "balanced_acc": float(np.mean(recall)) if recall else float("nan"),
        "auc": aucs[positive] if n_classes == 2 else float(np.nanmean(aucs)),
        "confusion": confusion.tolist(),
    }
    if n_classes == 2:
        negative = 1 - positive
        result["sensitivity"] = _ratio(confusion[positive, positive], confusion[positive].sum())
        result["specificity"] = _ratio(confusion[negative, negative], confusion[negative].sum())
    return result


def _ratio(num: int, den: int) -> float:
    return float(num / den) if den else float("nan")
