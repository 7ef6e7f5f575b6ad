"""Resize to a fixed shape: output shape, affine (field of view kept), labels stay labels."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from monai.data import MetaTensor

from monai_ext.transforms import ResizeToShape, ResizeToShaped

sides = st.integers(min_value=2, max_value=20)
shapes3d = st.tuples(sides, sides, sides)


@settings(max_examples=25, deadline=None)
@given(channels=st.integers(1, 3), in_shape=shapes3d, out_shape=shapes3d)
def test_output_shape_is_requested_shape(
    channels: int, in_shape: tuple[int, int, int], out_shape: tuple[int, int, int]
) -> None:
    out = ResizeToShape(spatial_size=out_shape)(torch.rand(channels, *in_shape))
    assert tuple(out.shape) == (channels, *out_shape)
    assert out.dtype == torch.float32


def test_numpy_input_and_2d_mode() -> None:
    out = ResizeToShape(spatial_size=(5, 7), mode="bilinear")(torch.rand(1, 10, 14).numpy())
    assert tuple(out.shape) == (1, 5, 7)


def test_constant_image_stays_constant() -> None:
    out = ResizeToShape(spatial_size=(7, 9, 11))(torch.full((1, 16, 16, 16), 3.5))
    assert torch.allclose(out, torch.full_like(out, 3.5))


def test_affine_keeps_field_of_view(lps_affine: torch.Tensor) -> None:
    img = MetaTensor(torch.rand(1, 16, 16, 12), affine=lps_affine, meta={"patient": "anon-1"})
    out = ResizeToShape(spatial_size=(8, 32, 12))(img)
    assert isinstance(out, MetaTensor)
    assert out.meta["patient"] == "anon-1"
    spacing = out.affine[:3, :3].diagonal().tolist()
    assert spacing == pytest.approx([-4.0, -1.0, 3.0])  # 16 x 2 mm -> 8 x 4 mm, 16 x 2 mm -> 32 x 1 mm


def test_wrong_spatial_rank_raises() -> None:
    with pytest.raises(ValueError, match="3 spatial dimensions"):
        ResizeToShape(spatial_size=(8, 8, 8))(torch.rand(1, 16, 16))


@pytest.mark.parametrize("size", [(), (8, 0, 8), (8, -1, 8)])
def test_invalid_size_raises(size: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="positive ints"):
        ResizeToShape(spatial_size=size)


def test_dict_version_keeps_label_values_and_alignment() -> None:
    label = torch.zeros(1, 16, 16, 16)
    label[:, :8] = 1.0
    label[:, 8:, 8:] = 2.0
    t = ResizeToShaped(keys=("image", "label"), label_keys="label", spatial_size=(8, 8, 8))
    out = t({"image": label.clone(), "label": label})
    assert set(out["label"].unique().tolist()) == {0.0, 1.0, 2.0}
    assert tuple(out["image"].shape) == tuple(out["label"].shape) == (1, 8, 8, 8)
    assert torch.equal(out["label"], torch.round(out["image"]))  # piecewise-constant blocks stay aligned


def test_dict_version_rejects_unknown_label_keys() -> None:
    with pytest.raises(ValueError, match="not among keys"):
        ResizeToShaped(keys="image", label_keys="seg", spatial_size=(8, 8, 8))
