"""The runnable examples in the transform docstrings must stay correct."""

from __future__ import annotations

import doctest
import importlib
from types import ModuleType

import pytest

from monai_ext.networks import strides

DOCUMENTED_MODULES = (
    "monai_ext.transforms.augment.image_data_generator",
    "monai_ext.transforms.augment.mask_batch_augment",
    "monai_ext.transforms.augment.scanner_resample",
    "monai_ext.transforms.intensity.ct_window",
    "monai_ext.transforms.intensity.percentile_scale",
    "monai_ext.transforms.masks.mask_distance",
    "monai_ext.transforms.masks.select_label",
    "monai_ext.transforms.spatial.centred_cube",
    "monai_ext.transforms.spatial.geometry",
    "monai_ext.transforms.spatial.resize",
)


@pytest.mark.parametrize(
    "module",
    [*(importlib.import_module(name) for name in DOCUMENTED_MODULES), strides],
    ids=lambda m: m.__name__,
)
def test_docstring_examples(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
