"""Invariants of CT windowing: bounds, end points, monotonicity, input types, errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from monai.config import NdarrayOrTensor
from monai.data import MetaTensor

from monai_ext.transforms import CT_WINDOW_PRESETS, CTWindow, CTWindowd, Window

PRESETS = sorted(CT_WINDOW_PRESETS)


def test_presets_are_the_standard_radiology_values() -> None:
    expected = {
        "lung": (1500.0, -600.0),
        "mediastinum": (350.0, 50.0),
        "abdomen": (400.0, 40.0),
        "brain": (80.0, 40.0),
        "bone": (1800.0, 400.0),
    }
    assert {name: (w.width, w.level) for name, w in CT_WINDOW_PRESETS.items()} == expected


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_maps_window_edges_to_0_and_1_and_level_to_half(preset: str) -> None:
    w = CT_WINDOW_PRESETS[preset]
    hu = torch.tensor([w.level - w.width / 2, w.level, w.level + w.width / 2]).reshape(1, 3, 1, 1)
    out = CTWindow(preset=preset)(hu).flatten().tolist()
    assert out == [0.0, 0.5, 1.0]


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_is_monotone_and_clipped(preset: str) -> None:
    hu = torch.linspace(-3000.0, 3000.0, 4096).reshape(1, 16, 16, 16)
    out = CTWindow(preset=preset)(hu).flatten()
    assert bool((out.diff() >= 0).all())
    assert float(out.min()) == 0.0
    assert float(out.max()) == 1.0


@settings(max_examples=30, deadline=None)
@given(
    img=arrays(np.float32, array_shapes(min_dims=4, max_dims=4, min_side=1, max_side=5)),
    width=st.floats(1.0, 4000.0),
    level=st.floats(-1500.0, 1500.0),
)
def test_output_always_in_unit_interval(img: np.ndarray, width: float, level: float) -> None:
    img = np.nan_to_num(img, nan=0.0)  # NaN is tested separately; ±inf must still map into [0, 1]
    out = CTWindow(width=width, level=level)(img)
    assert out.shape == img.shape
    assert bool(((out >= 0) & (out <= 1)).all())


@settings(max_examples=30, deadline=None)
@given(width=st.floats(0.5, 4000.0), level=st.floats(-1500.0, 1500.0))
def test_custom_window_edges(width: float, level: float) -> None:
    hu = torch.tensor([level - width / 2, level + width / 2], dtype=torch.float64).reshape(1, 2, 1, 1)
    out = CTWindow(width=width, level=level, dtype=np.float64)(hu).flatten().tolist()
    assert out == pytest.approx([0.0, 1.0], abs=1e-9)


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a,
        torch.from_numpy,
        lambda a: MetaTensor(torch.from_numpy(a), meta={"patient": "anon-1"}),
    ],
    ids=["numpy", "tensor", "metatensor"],
)
def test_accepts_numpy_tensor_and_metatensor(make: Callable[[np.ndarray], NdarrayOrTensor]) -> None:
    hu = np.array([-1000, 40, 240, 3000], dtype=np.int16).reshape(1, 4, 1, 1)
    out = CTWindow(preset="abdomen")(make(hu))
    assert isinstance(out, torch.Tensor)
    assert out.dtype == torch.float32
    assert out.flatten().tolist() == [0.0, 0.5, 1.0, 1.0]


def test_metatensor_metadata_and_affine_preserved(lps_affine: torch.Tensor) -> None:
    img = MetaTensor(torch.zeros(1, 4, 4, 4), affine=lps_affine, meta={"patient": "anon-1"})
    out = CTWindow(preset="brain")(img)
    assert isinstance(out, MetaTensor)
    assert out.meta["patient"] == "anon-1"
    assert torch.equal(out.affine, lps_affine)


def test_nan_raises_clear_error() -> None:
    img = torch.zeros(1, 4, 4, 4)
    img[0, 1, 2, 3] = float("nan")
    with pytest.raises(ValueError, match=r"CTWindow.*1 NaN value"):
        CTWindow(preset="lung")(img)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "Give a `preset`"),
        ({"width": 400.0}, "both `width` and `level`"),
        ({"preset": "lung", "width": 400.0, "level": 40.0}, "not both"),
        ({"preset": "liver"}, "Unknown CT window preset 'liver'"),
        ({"width": 0.0, "level": 40.0}, "width must be > 0"),
        ({"width": float("nan"), "level": 40.0}, "finite"),
    ],
)
def test_invalid_window_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CTWindow(**kwargs)


def test_window_properties() -> None:
    assert (Window(width=400.0, level=40.0).lower, Window(width=400.0, level=40.0).upper) == (-160.0, 240.0)


def test_dict_version_windows_keys_only() -> None:
    hu = torch.tensor([-160.0, 240.0]).reshape(1, 2, 1, 1)
    data = {"image": hu, "other": hu.clone()}
    out = CTWindowd(keys="image", preset="abdomen")(data)
    assert out["image"].flatten().tolist() == [0.0, 1.0]
    assert torch.equal(out["other"], hu)
    assert torch.equal(data["image"], hu)  # input dict not modified


def test_dict_version_missing_keys() -> None:
    with pytest.raises(KeyError):
        CTWindowd(keys="image", preset="lung")({"label": torch.zeros(1, 2, 2, 2)})
    out = CTWindowd(keys="image", preset="lung", allow_missing_keys=True)({"label": torch.zeros(1, 2, 2, 2)})
    assert set(out) == {"label"}
