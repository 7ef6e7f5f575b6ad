"""Invariants of percentile scaling: end points at the percentiles, monotone, bounded, robust."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from monai.data import MetaTensor

from monai_ext.transforms import PercentileScale, PercentileScaled


@pytest.mark.parametrize(("lower", "upper"), [(0.5, 99.5), (2.0, 98.0), (0.0, 100.0), (25.0, 75.0)])
def test_hits_0_and_1_at_the_percentiles(volume: torch.Tensor, lower: float, upper: float) -> None:
    values = volume.numpy()
    low, high = np.percentile(values, [lower, upper])
    out = PercentileScale(lower=lower, upper=upper)(volume).numpy()
    assert out.min() == 0.0
    assert out.max() == 1.0
    assert (out[values <= low] == 0.0).all()
    assert (out[values >= high] == 1.0).all()
    inside = (values > low) & (values < high)
    np.testing.assert_allclose(out[inside], (values[inside] - low) / (high - low), atol=1e-5)


def test_is_monotone(volume: torch.Tensor) -> None:
    order = np.argsort(volume.numpy().ravel(), kind="stable")
    out = PercentileScale()(volume).numpy().ravel()
    assert (np.diff(out[order]) >= 0).all()


@settings(max_examples=40, deadline=None)
@given(
    img=arrays(
        np.float32,
        array_shapes(min_dims=4, max_dims=4, min_side=1, max_side=6),
        elements=st.floats(-1e6, 1e6, width=32),
    ),
    lower=st.floats(0.0, 49.0),
    upper=st.floats(51.0, 100.0),
    nonzero=st.booleans(),
    channel_wise=st.booleans(),
)
def test_output_always_in_unit_interval(
    img: np.ndarray, lower: float, upper: float, nonzero: bool, channel_wise: bool
) -> None:
    scale = PercentileScale(lower=lower, upper=upper, nonzero=nonzero, channel_wise=channel_wise)
    out = scale(img)
    assert out.shape == img.shape
    assert bool(((out >= 0) & (out <= 1)).all())


@pytest.mark.parametrize("nonzero", [False, True])
def test_constant_image_gives_zeros_without_warning(nonzero: bool) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "divide by zero" warning from ScaleIntensityRange either
        out = PercentileScale(nonzero=nonzero)(torch.full((2, 4, 4, 4), 7.0))
    assert torch.equal(out, torch.zeros(2, 4, 4, 4))


def test_all_zero_image_with_nonzero_mask_gives_zeros() -> None:
    assert torch.equal(PercentileScale(nonzero=True)(np.zeros((1, 4, 4, 4))), torch.zeros(1, 4, 4, 4))


def test_nonzero_ignores_background_and_keeps_it_at_zero(rng: np.random.Generator) -> None:
    img = np.zeros((1, 16, 16, 16), dtype=np.float32)
    img[:, 4:12, 4:12, 4:12] = rng.uniform(100.0, 200.0, size=(1, 8, 8, 8))
    foreground = img != 0
    out = PercentileScale(lower=0.0, upper=100.0, nonzero=True)(img).numpy()
    assert (out[~foreground] == 0.0).all()
    assert out[foreground].min() == 0.0
    assert out[foreground].max() == 1.0
    # without the mask, the background sets the 0 and the foreground starts near 0.5
    plain = PercentileScale(lower=0.0, upper=100.0)(img).numpy()
    assert plain[foreground].min() > 0.4


def test_channel_wise_scales_each_channel(rng: np.random.Generator) -> None:
    img = np.stack([rng.normal(0.0, 1.0, (8, 8, 8)), rng.normal(1000.0, 300.0, (8, 8, 8))])
    out = PercentileScale(channel_wise=True)(img)
    assert [float(c.min()) for c in out] == [0.0, 0.0]
    assert [float(c.max()) for c in out] == [1.0, 1.0]
    joint = PercentileScale(channel_wise=False)(img)
    assert float(joint[0].max()) < 0.01  # the joint range is dominated by channel 1


def test_metatensor_metadata_preserved(lps_affine: torch.Tensor, volume: torch.Tensor) -> None:
    out = PercentileScale()(MetaTensor(volume, affine=lps_affine, meta={"patient": "anon-1"}))
    assert isinstance(out, MetaTensor)
    assert out.meta["patient"] == "anon-1"
    assert torch.equal(out.affine, lps_affine)
    assert out.dtype == torch.float32


@pytest.mark.parametrize(("bad", "message"), [(float("nan"), "NaN"), (float("inf"), "infinite")])
def test_nan_and_inf_raise_clear_error(volume: torch.Tensor, bad: float, message: str) -> None:
    volume[0, 0, 0, 0] = bad
    with pytest.raises(ValueError, match=rf"PercentileScale.*{message}"):
        PercentileScale()(volume)


@pytest.mark.parametrize(("lower", "upper"), [(-1.0, 50.0), (50.0, 101.0), (60.0, 40.0), (30.0, 30.0)])
def test_invalid_percentiles_raise(lower: float, upper: float) -> None:
    with pytest.raises(ValueError, match="lower < upper"):
        PercentileScale(lower=lower, upper=upper)


def test_dict_version_scales_each_key_by_its_own_percentiles(rng: np.random.Generator) -> None:
    data = {"t1": rng.normal(0, 1, (1, 8, 8, 8)), "t2": rng.normal(500, 50, (1, 8, 8, 8)), "id": "case-7"}
    out = PercentileScaled(keys=("t1", "t2"), lower=0.0, upper=100.0)(data)
    for key in ("t1", "t2"):
        assert (float(out[key].min()), float(out[key].max())) == (0.0, 1.0)
    assert out["id"] == "case-7"
