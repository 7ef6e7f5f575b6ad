"""MONAI-compatible transforms: each array transform with its dictionary (``...d``) twin in one file."""

from __future__ import annotations

from monai_ext.transforms.anomaly_outputs import AnomalyOutputs, AnomalyOutputsd
from monai_ext.transforms.augment.batch_augment import RandBatchAugment
from monai_ext.transforms.augment.image_data_generator import (
    AugmentParams,
    KerasAugment,
    KerasAugmentd,
    RandKerasAugment,
    RandKerasAugmentd,
)
from monai_ext.transforms.augment.mask_batch_augment import MaskBatchAugment
from monai_ext.transforms.augment.mask_pair_augment import MaskPairAugment
from monai_ext.transforms.augment.scanner_resample import RandScannerResample
from monai_ext.transforms.intensity.ct_window import CT_WINDOW_PRESETS, CTWindow, CTWindowd, Window
from monai_ext.transforms.intensity.percentile_scale import PercentileScale, PercentileScaled
from monai_ext.transforms.masks.mask_distance import MaskDistance, MaskDistanced, mask_distance
from monai_ext.transforms.masks.select_label import LabelSelectionError, SelectLabel, SelectLabeld
from monai_ext.transforms.spatial.centred_cube import CentredCube, CentredCubed, centre_of_mass
from monai_ext.transforms.spatial.geometry import NormalizeGeometry, NormalizeGeometryd
from monai_ext.transforms.spatial.resize import ResizeToShape, ResizeToShaped

__all__ = [
    "CT_WINDOW_PRESETS",
    "AnomalyOutputs",
    "AnomalyOutputsd",
    "AugmentParams",
    "CTWindow",
    "CTWindowd",
    "CentredCube",
    "CentredCubed",
    "KerasAugment",
    "KerasAugmentd",
    "LabelSelectionError",
    "MaskBatchAugment",
    "MaskDistance",
    "MaskDistanced",
    "MaskPairAugment",
    "NormalizeGeometry",
    "NormalizeGeometryd",
    "PercentileScale",
    "PercentileScaled",
    "RandBatchAugment",
    "RandKerasAugment",
    "RandKerasAugmentd",
    "RandScannerResample",
    "ResizeToShape",
    "ResizeToShaped",
    "SelectLabel",
    "SelectLabeld",
    "Window",
    "centre_of_mass",
    "mask_distance",
]
