"""Batched rotation/shift/flip augmentation: axis conventions, replay, per-instance randomness."""

from __future__ import annotations

import math

import pytest
import torch

from monai_ext.transforms import RandBatchAugment
from monai_ext.transforms.augment.batch_augment import rotation_matrices


def _volume(batch: int = 3, size: int = 8) -> torch.Tensor:
    return torch.rand(batch, 1, size, size, size, generator=torch.Generator().manual_seed(1))


def test_identity_when_nothing_is_enabled() -> None:
    x = _volume()
    aug = RandBatchAugment(rotation_range=0, shift_range=0, flip_axes=(), seed=0)
    assert torch.equal(aug(x), x)


def test_flips_follow_the_drawn_parameters() -> None:
    x = _volume(batch=16)
    aug = RandBatchAugment(rotation_range=0, shift_range=0, flip_axes=(0, 2), seed=3)
    y = aug(x)
    assert not aug.flips[:, 1].any()
    for i in range(len(x)):
        dims = [1 + a for a in range(3) if aug.flips[i, a]]
        assert torch.equal(y[i], x[i].flip(dims) if dims else x[i])
    assert aug.flips.any()


@pytest.mark.parametrize(("axis", "dims"), [(0, (3, 4)), (1, (2, 4)), (2, (2, 3))])
def test_quarter_turn_about_each_axis_is_a_rot90(axis: int, dims: tuple[int, int]) -> None:
    x = _volume(batch=1)
    aug = RandBatchAugment(seed=0)
    aug.randomize(1)
    angles = torch.zeros(1, 3)
    angles[0, axis] = math.pi / 2
    aug.angles, aug.shifts, aug.flips = angles, torch.zeros(1, 3), torch.zeros(1, 3, dtype=torch.bool)
    y = aug.apply(x)
    matches = [torch.allclose(y, torch.rot90(x, k, dims), atol=1e-5) for k in (1, 3)]
    assert any(matches), "a 90 degree rotation about one axis must permute the other two axes"


def test_shift_moves_content_by_the_fraction_of_the_size() -> None:
    x = torch.zeros(1, 1, 8, 8, 8)
    x[0, 0, 4, 4, 4] = 1.0
    aug = RandBatchAugment(seed=0)
    aug.randomize(1)
    aug.angles, aug.flips = torch.zeros(1, 3), torch.zeros(1, 3, dtype=torch.bool)
    aug.shifts = torch.tensor([[0.25, 0.0, 0.0]])
    y = aug.apply(x)
    assert y[0, 0, 2, 4, 4] == pytest.approx(1.0, abs=1e-5)
    assert float(y.sum()) == pytest.approx(1.0, abs=1e-5)


def test_replay_seed_and_state_dict() -> None:
    x = _volume(batch=4)
    a, b = RandBatchAugment(seed=7), RandBatchAugment(seed=7)
    ya = a(x)
    assert torch.equal(ya, b(x))
    assert torch.equal(a.apply(x), ya)
    state = a.state_dict()
    next_a = a(x)
    c = RandBatchAugment(seed=99)
    c.load_state_dict(state)
    assert torch.equal(c(x), next_a)


def test_input_is_not_modified_and_bad_shapes_are_refused() -> None:
    x = _volume()
    before = x.clone()
    RandBatchAugment(seed=0, prob=1.0)(x)
    assert torch.equal(x, before)
    aug = RandBatchAugment(seed=0)
    with pytest.raises(ValueError, match=r"\(B, C, D, H, W\)"):
        aug(torch.zeros(1, 8, 8, 8))
    with pytest.raises(ValueError, match="prob"):
        RandBatchAugment(prob=2.0)
    with pytest.raises(ValueError, match="flip_axes"):
        RandBatchAugment(flip_axes=(3,))


def test_rotation_matrices_are_orthonormal() -> None:
    r = rotation_matrices(torch.rand(5, 3) * 6 - 3)
    eye = torch.eye(3).expand(5, 3, 3)
    assert torch.allclose(r @ r.transpose(1, 2), eye, atol=1e-6)
    assert torch.allclose(torch.linalg.det(r), torch.ones(5), atol=1e-6)
