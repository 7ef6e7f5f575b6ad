"""MONAI-compatible transforms: each array transform with its dictionary (``...d``) twin in one file."""

from __future__ import annotations

from monai_ext.transforms.anomaly_outputs import AnomalyOutputs, AnomalyOutputsd
from monai_ext.transforms.augment import (
    AugmentParams,
    KerasAugment,
    KerasAugmentd,
    RandKerasAugment,
    RandKerasAugmentd,
)
from monai_ext.transforms.batch_augment import RandBatchAugment
from monai_ext.transforms.centred_cube import CentredCube, CentredCubed, centre_of_mass
from monai_ext.transforms.ct_window import CT_WINDOW_PRESETS, CTWindow, CTWindowd, Window
from monai_ext.transforms.geometry import NormalizeGeometry, NormalizeGeometryd
from monai_ext.transforms.mask_batch_augment import MaskBatchAugment
from monai_ext.transforms.mask_distance import MaskDistance, MaskDistanced, mask_distance
from monai_ext.transforms.mask_pair_augment import MaskPairAugment
from monai_ext.transforms.percentile_scale import PercentileScale, PercentileScaled
from monai_ext.transforms.resize import ResizeToShape, ResizeToShaped
from monai_ext.transforms.scanner_resample import RandScannerResample
from monai_ext.transforms.select_label import LabelSelectionError, SelectLabel, SelectLabeld

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
