"""The runnable examples in the transform docstrings must stay correct."""

from __future__ import annotations

import doctest
import importlib
from types import ModuleType

import pytest

from monai_ext.networks import strides
from monai_ext.transforms import (
    augment,
    centred_cube,
    ct_window,
    geometry,
    mask_batch_augment,
    percentile_scale,
    resize,
    scanner_resample,
    select_label,
)


@pytest.mark.parametrize(
    "module",
    [
        augment,
        centred_cube,
        ct_window,
        geometry,
        mask_batch_augment,
        importlib.import_module("monai_ext.transforms.mask_distance"),  # the package exports a same-named function
        percentile_scale,
        resize,
        scanner_resample,
        select_label,
        strides,
    ],
    ids=lambda m: m.__name__,
)
def test_docstring_examples(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
