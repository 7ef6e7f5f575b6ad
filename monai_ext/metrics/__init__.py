"""Metrics: ROC AUC, accuracy and friends (no scikit-learn dependency), generative and segmentation scores."""

from __future__ import annotations

from monai_ext.metrics.anomaly import anomaly_metrics, average_precision, precision_recall_curve
from monai_ext.metrics.bootstrap import bootstrap_ci, paired_difference
from monai_ext.metrics.classification import classification_metrics, roc_auc, roc_curve
from monai_ext.metrics.generative import (
    extract_features,
    feature_statistics,
    frechet_distance,
    frechet_distance_from_features,
    pairwise_ms_ssim,
    prdc,
)
from monai_ext.metrics.segmentation import label_metrics

__all__ = [
    "anomaly_metrics",
    "average_precision",
    "bootstrap_ci",
    "classification_metrics",
    "extract_features",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_from_features",
    "label_metrics",
    "paired_difference",
    "pairwise_ms_ssim",
    "prdc",
    "precision_recall_curve",
    "roc_auc",
    "roc_curve",
]
