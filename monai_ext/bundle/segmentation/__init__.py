"""Segmentation outputs: label maps or region masks on the input's grid, named and coloured segments,
probability heatmaps, per-label volumes, and a region explanation (the shared segmentation contract)."""

from __future__ import annotations

from monai_ext.bundle.segmentation.explain import region_grad_cam, region_target_layer
from monai_ext.bundle.segmentation.labels import (
    SegmentationLabel,
    SegmentationSpec,
    is_segmentation,
    segmentation_spec,
)
from monai_ext.bundle.segmentation.maps import Segmentation, discretise, label_statistics, to_input_grid
from monai_ext.bundle.segmentation.palette import PALETTE, palette_color
from monai_ext.bundle.segmentation.write import WrittenSegmentations, write_segmentations

__all__ = [
    "PALETTE",
    "Segmentation",
    "SegmentationLabel",
    "SegmentationSpec",
    "WrittenSegmentations",
    "discretise",
    "is_segmentation",
    "label_statistics",
    "palette_color",
    "region_grad_cam",
    "region_target_layer",
    "segmentation_spec",
    "to_input_grid",
    "write_segmentations",
]
