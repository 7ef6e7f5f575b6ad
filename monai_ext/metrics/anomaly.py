"""Detection metrics of anomaly scores: average precision (AUPRC) and the precision-recall curve."""

from __future__ import annotations

from typing import Any

import numpy as np

from monai_ext.metrics.classification import roc_auc

__all__ = ["anomaly_metrics", "average_precision", "precision_recall_curve"]


def precision_recall_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall at every distinct threshold, from the highest score down (ties grouped).

    Returns:
        ``(precision, recall)``, each ``(T,)`` for ``T`` distinct scores; recall rises to 1.
    """
    positive = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_pos = scores[order], positive[order]
    last_of_threshold = np.r_[np.diff(sorted_scores) != 0, True]
    tp = np.cumsum(sorted_pos)[last_of_threshold]
    predicted = (np.arange(len(scores)) + 1)[last_of_threshold]
    return tp / predicted, tp / max(int(positive.sum()), 1)


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision, ``sum_n (R_n - R_{n-1}) P_n``
    (step-wise, no interpolation; scikit-learn's ``average_precision_score``).

    Args:
        labels: ``(N,)`` 0/1, 1 = abnormal.
        scores: ``(N,)`` higher = more abnormal.

    Returns:
        AP in [0, 1]; NaN without positives.

    Example:
        >>> average_precision(np.array([0, 1, 0, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
        1.0
    """
    positive = np.asarray(labels).astype(bool)
    if not positive.any():
        return float("nan")
    precision, recall = precision_recall_curve(positive, scores)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def anomaly_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """``auroc``, ``auprc`` (average precision), the prevalence (AUPRC of a random score) and class counts.

    Cases with a negative label (unknown) are ignored.
    """
    labels = np.asarray(labels).astype(np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    known = labels >= 0
    labels, scores = labels[known], scores[known]
    positive = labels == 1
    return {
        "n": len(labels),
        "n_normal": int((labels == 0).sum()),
        "n_abnormal": int(positive.sum()),
        "auroc": roc_auc(positive, scores),
        "auprc": average_precision(positive, scores),
        "prevalence": float(positive.mean()) if len(labels) else float("nan"),
    }
