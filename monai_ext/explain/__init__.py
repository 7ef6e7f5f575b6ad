"""Explanations in the input's voxel grid: the Grad-CAM family, occlusion, gradients, feature maps, residual maps."""

from __future__ import annotations

from monai_ext.explain.anomaly.residual import (
    RECONSTRUCTION_SCORES,
    anomaly_score,
    reconstruction_score,
    residual,
    residual_map,
    residual_scale,
    signed_residual_score,
)
from monai_ext.explain.attribution.feature_maps import feature_maps, save_feature_montage
from monai_ext.explain.attribution.gradcam import grad_cam, grad_cam_pp
from monai_ext.explain.attribution.layers import default_target_layer
from monai_ext.explain.attribution.occlusion import OcclusionPlan, occlusion_sensitivity, plan_occlusion
from monai_ext.explain.attribution.saliency import smooth_grad, vanilla_gradient
from monai_ext.explain.attribution.upsample import upsample_map
from monai_ext.explain.display.display_range import display_range
from monai_ext.explain.display.montage import save_overlay_montage
from monai_ext.explain.display.outline_montage import OutlineStyle, save_outline_montage
from monai_ext.explain.map_quality.deletion import deletion_auc, deletion_curve

__all__ = [
    "RECONSTRUCTION_SCORES",
    "OcclusionPlan",
    "OutlineStyle",
    "anomaly_score",
    "default_target_layer",
    "deletion_auc",
    "deletion_curve",
    "display_range",
    "feature_maps",
    "grad_cam",
    "grad_cam_pp",
    "occlusion_sensitivity",
    "plan_occlusion",
    "reconstruction_score",
    "residual",
    "residual_map",
    "residual_scale",
    "save_feature_montage",
    "save_outline_montage",
    "save_overlay_montage",
    "signed_residual_score",
    "smooth_grad",
    "upsample_map",
    "vanilla_gradient",
]
