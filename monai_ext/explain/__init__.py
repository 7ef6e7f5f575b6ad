"""Explanations: residual anomaly maps (more methods join here)."""

from __future__ import annotations

from monai_ext.explain.gradcam import grad_cam
from monai_ext.explain.residual import anomaly_score, residual, residual_map, residual_scale

__all__ = ["anomaly_score", "grad_cam", "residual", "residual_map", "residual_scale"]
