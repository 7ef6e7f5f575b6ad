"""Metrics computed in numpy: ROC AUC, accuracy and friends (no scikit-learn dependency)."""

from __future__ import annotations

from monai_ext.metrics.classification import classification_metrics, roc_auc, roc_curve

__all__ = ["classification_metrics", "roc_auc", "roc_curve"]
