"""The runnable examples in the transform docstrings must stay correct."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from monai_ext.transforms import augment, centred_cube, ct_window, geometry, percentile_scale, resize, select_label


@pytest.mark.parametrize(
    "module",
    [augment, centred_cube, ct_window, geometry, percentile_scale, resize, select_label],
    ids=lambda m: m.__name__,
)
def test_docstring_examples(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
