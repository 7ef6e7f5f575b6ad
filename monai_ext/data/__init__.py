"""Datasets: MedMNIST-style archives, datalists and folders of cases, plus embedded example data."""

from __future__ import annotations

from monai_ext.data.cases import UNKNOWN_LABEL, case_dataset, load_cases, preprocess_array
from monai_ext.data.datalist import load_datalist
from monai_ext.data.filter import label_case_dataset, select_labels
from monai_ext.data.image_inputs import image_inputs, is_dicom_input
from monai_ext.data.npz import DatasetError, load_npz_split, npz_splits
from monai_ext.data.phantom import head_phantom_hu
from monai_ext.data.require import require_dataset, require_file
from monai_ext.data.segmentation_cases import SEGMENTATION_SPLITS, segmentation_cases, split_cases

__all__ = [
    "SEGMENTATION_SPLITS",
    "UNKNOWN_LABEL",
    "DatasetError",
    "case_dataset",
    "head_phantom_hu",
    "image_inputs",
    "is_dicom_input",
    "label_case_dataset",
    "load_cases",
    "load_datalist",
    "load_npz_split",
    "npz_splits",
    "preprocess_array",
    "require_dataset",
    "require_file",
    "segmentation_cases",
    "select_labels",
    "split_cases",
]
