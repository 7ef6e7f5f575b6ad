"""Keras-style augmentation: reproducibility, exact replay, bounds, alignment, RNG hygiene."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from monai.data import MetaTensor
from monai.transforms import Compose

from monai_ext.transforms import AugmentParams, KerasAugment, KerasAugmentd, RandKerasAugment, RandKerasAugmentd


def sample_params(t: RandKerasAugment, n: int) -> list[AugmentParams]:
    params = []
    for _ in range(n):
        t.randomize()
        params.append(t.params)
    return params


def test_same_seed_same_output(volume: torch.Tensor) -> None:
    first = RandKerasAugment().set_random_state(seed=7)
    second = RandKerasAugment().set_random_state(seed=7)
    for _ in range(3):
        assert torch.equal(first(volume), second(volume))
        assert first.params == second.params


def test_different_seeds_differ() -> None:
    draws = {sample_params(RandKerasAugment().set_random_state(seed=seed), 1)[0] for seed in range(5)}
    assert len(draws) == 5


def test_replay_of_exposed_params_is_bit_identical(volume: torch.Tensor) -> None:
    t = RandKerasAugment().set_random_state(seed=3)
    for _ in range(5):
        out = t(volume)
        assert torch.equal(out, KerasAugment(params=t.params)(volume))
        assert torch.equal(out, t(volume, randomize=False))


@pytest.mark.parametrize("rotate_axes", [(0, 1, 2), (2,), ()])
def test_sampled_params_respect_the_bounds(rotate_axes: tuple[int, ...]) -> None:
    t = RandKerasAugment(rotate_axes=rotate_axes, flip_axes=(0, 1)).set_random_state(seed=0)
    params = sample_params(t, 500)
    angles = np.array([p.rotate_deg for p in params])
    shifts = np.array([p.shift_frac for p in params])
    flips = np.array([p.flip for p in params])
    assert (np.abs(angles) <= 20.0).all()
    assert (np.abs(shifts) <= 0.2).all()
    for axis in range(3):
        if axis in rotate_axes:
            assert np.abs(angles[:, axis]).max() > 18.0  # the range is actually used
        else:
            assert (angles[:, axis] == 0.0).all()
    assert np.abs(shifts).max(axis=0).min() > 0.18
    assert not flips[:, 2].any()
    assert 0.4 < flips[:, :2].mean() < 0.6


def test_custom_ranges() -> None:
    t = RandKerasAugment(rotation_range=5.0, shift_range=(0.0, 0.1, 0.3)).set_random_state(seed=1)
    params = sample_params(t, 200)
    assert max(abs(a) for p in params for a in p.rotate_deg) <= 5.0
    shifts = np.abs([p.shift_frac for p in params])
    assert (shifts[:, 0] == 0.0).all()
    assert (shifts[:, 1] <= 0.1).all()
    assert (shifts[:, 2] <= 0.3).all()


def test_prob_applies_to_the_whole_preset(volume: torch.Tensor) -> None:
    never = RandKerasAugment(prob=0.0).set_random_state(seed=0)
    assert torch.equal(never(volume), volume)
    assert never.params == AugmentParams()
    half = RandKerasAugment(prob=0.5).set_random_state(seed=0)
    applied = [p != AugmentParams() for p in sample_params(half, 400)]
    assert 0.4 < float(np.mean(applied)) < 0.6


def global_numpy_state() -> tuple[Any, ...]:
    """The legacy global numpy RNG state (reading it is the point of the RNG-hygiene test)."""
    state = np.random.get_state(legacy=True)  # noqa: NPY002
    assert isinstance(state, tuple)
    return state


def test_global_rng_untouched(volume: torch.Tensor) -> None:
    np_state, torch_state = global_numpy_state(), torch.get_rng_state()
    t = RandKerasAugment()
    td = RandKerasAugmentd(keys=("image", "label"), label_keys="label")
    for _ in range(3):
        t(volume)
        td({"image": volume, "label": (volume > 0).float()})
    after = global_numpy_state()
    assert after[0] == np_state[0]
    assert np.array_equal(after[1], np_state[1])
    assert after[2:] == np_state[2:]
    assert torch.equal(torch.get_rng_state(), torch_state)


def test_instances_have_their_own_random_state() -> None:
    a, b = RandKerasAugment(), RandKerasAugment()
    assert a.R is not b.R


def test_border_fill_keeps_constant_image_constant() -> None:
    img = torch.full((1, 16, 16, 16), 2.0)
    out = KerasAugment(params=AugmentParams(rotate_deg=(20.0, -20.0, 20.0), shift_frac=(0.2, -0.2, 0.2)))(img)
    assert torch.allclose(out, img)


def test_flip_matches_torch_flip(volume: torch.Tensor) -> None:
    out = KerasAugment(params=AugmentParams(flip=(True, False, True)))(volume)
    assert torch.equal(out, torch.flip(volume, dims=(1, 3)))


def test_integer_shift_moves_voxels() -> None:
    img = torch.zeros(1, 10, 10, 10)
    img[0, 5, 5, 5] = 1.0
    out = KerasAugment(params=AugmentParams(shift_frac=(0.2, 0.0, 0.0)), mode="nearest")(img)
    assert torch.argwhere(out[0] == 1.0).tolist() in ([[7, 5, 5]], [[3, 5, 5]])


@settings(max_examples=15, deadline=None)
@given(shape=st.tuples(st.integers(1, 2), st.integers(4, 16), st.integers(4, 16), st.integers(4, 16)))
def test_shape_and_dtype_preserved(shape: tuple[int, int, int, int]) -> None:
    t = RandKerasAugment().set_random_state(seed=0)
    out = t(np.ones(shape, dtype=np.int16))
    assert tuple(out.shape) == shape
    assert out.dtype == torch.float32


def test_metatensor_metadata_preserved(volume: torch.Tensor, lps_affine: torch.Tensor) -> None:
    img = MetaTensor(volume, affine=lps_affine, meta={"patient": "anon-1"})
    out = RandKerasAugment().set_random_state(seed=0)(img)
    assert isinstance(out, MetaTensor)
    assert out.meta["patient"] == "anon-1"


def test_dict_flip_only_keeps_threshold_label_aligned(volume: torch.Tensor) -> None:
    t = RandKerasAugmentd(keys=("image", "label"), label_keys="label", rotation_range=0.0, shift_range=0.0)
    t.set_random_state(seed=5)
    seen_flips = set()
    for _ in range(8):
        out = t({"image": volume, "label": (volume > 0.5).float()})
        assert torch.equal(out["label"], (out["image"] > 0.5).float())
        seen_flips.add(t.params.flip)
    assert len(seen_flips) > 1  # flips did happen


def test_dict_applies_the_same_params_to_every_key(volume: torch.Tensor) -> None:
    label = (volume > 0.5).float()
    t = RandKerasAugmentd(keys=("image", "image2", "label"), label_keys="label").set_random_state(seed=11)
    for _ in range(3):
        out = t({"image": volume, "image2": volume.clone(), "label": label, "id": "case-1"})
        assert torch.equal(out["image"], out["image2"])
        assert torch.equal(out["image"], KerasAugment(params=t.params)(volume))
        assert torch.equal(out["label"], KerasAugment(params=t.params, mode="nearest")(label))
        assert set(out["label"].unique().tolist()) <= {0.0, 1.0}
        assert out["id"] == "case-1"


def test_dict_replay_and_seed(volume: torch.Tensor) -> None:
    data = {"image": volume, "label": (volume > 0).float()}
    a = RandKerasAugmentd(keys=("image", "label"), label_keys="label").set_random_state(seed=2)
    b = RandKerasAugmentd(keys=("image", "label"), label_keys="label").set_random_state(seed=2)
    out_a, out_b = a(data), b(data)
    replay = KerasAugmentd(keys=("image", "label"), label_keys="label", params=a.params)(data)
    for key in data:
        assert torch.equal(out_a[key], out_b[key])
        assert torch.equal(out_a[key], replay[key])


def test_seeding_through_monai_compose(volume: torch.Tensor) -> None:
    def pipeline() -> Compose:
        return Compose([RandKerasAugmentd(keys="image")]).set_random_state(seed=9)

    assert torch.equal(pipeline()({"image": volume})["image"], pipeline()({"image": volume})["image"])


def test_params_before_randomize_raises() -> None:
    with pytest.raises(RuntimeError, match="randomize"):
        _ = RandKerasAugment().params


def test_params_are_frozen_and_checked() -> None:
    p = AugmentParams()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.rotate_deg = (1.0, 0.0, 0.0)  # type: ignore[misc]
    with pytest.raises(ValueError, match="3 values"):
        AugmentParams(rotate_deg=(1.0, 2.0))  # type: ignore[arg-type]


def test_non_3d_input_raises() -> None:
    with pytest.raises(ValueError, match=r"\(C, H, W, D\)"):
        RandKerasAugment()(torch.rand(1, 8, 8))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prob": 1.5}, "prob"),
        ({"rotation_range": 200.0}, "rotation_range"),
        ({"shift_range": 1.0}, "shift_range"),
        ({"shift_range": (0.1, 0.2)}, "shift_range"),
        ({"shift_range": (0.1, -0.1, 0.1)}, "shift_range"),
        ({"rotate_axes": (3,)}, "rotate_axes"),
        ({"flip_axes": (-1,)}, "flip_axes"),
    ],
)
def test_invalid_arguments_raise(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RandKerasAugment(**kwargs)


def test_dict_rejects_unknown_label_keys() -> None:
    with pytest.raises(ValueError, match="not among keys"):
        RandKerasAugmentd(keys="image", label_keys="seg")
