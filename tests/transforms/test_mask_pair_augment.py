"""Consistency pairs on real AdrenalMNIST3D glands, and the scanner round trip's re-crop offset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_ext.transforms import (
    MaskBatchAugment,
    MaskPairAugment,
    RandBatchAugment,
    RandScannerResample,
    centre_of_mass,
    mask_distance,
)
from tests.transforms.conftest import dice


@pytest.fixture(scope="module")
def glands(val_glands: torch.Tensor) -> torch.Tensor:
    """Six real AdrenalMNIST3D val glands, ``(6, 1, 64, 64, 64)`` 0/1."""
    return val_glands[:6]


def pairs(seed: int = 0) -> MaskPairAugment:
    return MaskPairAugment(
        augment=MaskBatchAugment(
            scanner=RandScannerResample(prob=0.5, seed=seed),
            augment=RandBatchAugment(rotation_range=15, shift_range=0.1, prob=0.5, seed=seed),
            max_distance=6,
        ),
        partner=RandScannerResample(prob=1.0, max_shift=0.5, seed=seed + 1),
    )


def test_pairs_are_two_acquisitions_of_the_same_gland(glands: torch.Tensor) -> None:
    before = glands.clone()
    out = pairs()(glands)
    assert out.shape == (12, 2, 64, 64, 64)
    assert set(out[:, 0].unique().tolist()) == {0.0, 1.0}
    assert torch.equal(out[:, 1:], mask_distance(out[:, :1], max_distance=6))  # each half has its own distance
    scores = [dice(out[i, 0], out[6 + i, 0]) for i in range(6)]
    assert min(scores) > 0.75  # partner i is gland i, re-acquired
    assert max(scores) < 1.0  # and not a copy
    others = [dice(out[i, 0], out[6 + (i + 1) % 6, 0]) for i in range(6)]
    assert max(others) < min(scores)  # and not another gland
    assert torch.equal(glands, before)


def test_pairs_replay_after_a_resume(glands: torch.Tensor) -> None:
    aug = pairs(seed=4)
    state = aug.state_dict()
    first = aug(glands[:2])
    aug.load_state_dict(state)
    assert torch.equal(aug(glands[:2]), first)
    assert not torch.equal(aug(glands[:2]), first)  # the sequence goes on


def test_max_shift_moves_the_recrop_by_a_fraction_of_a_voxel(glands: torch.Tensor) -> None:
    """On a 1 mm untilted grid the round trip keeps the gland about in place; max_shift moves it by about 0.6 voxel."""
    kwargs = {"prob": 1.0, "in_plane_spacing": 1.0, "slice_spacing": 1.0, "max_tilt": 0.0}
    still = RandScannerResample(**kwargs, seed=2)(glands)
    moved = RandScannerResample(**kwargs, max_shift=0.6, seed=2)(glands)
    steps = []
    for i in range(len(glands)):
        here = np.asarray(centre_of_mass(still[i].numpy()))
        assert np.abs(here - np.asarray(centre_of_mass(glands[i].numpy()))).max() < 0.2
        steps.append(np.abs(np.asarray(centre_of_mass(moved[i].numpy())) - here).max())
    assert max(steps) <= 0.6 + 0.5  # the 0.5 threshold rounds a moved boundary to a whole voxel
    assert np.mean(steps) > 0.2
    with pytest.raises(ValueError, match="max_shift"):
        RandScannerResample(max_shift=-1.0)
    unchanged = RandScannerResample(prob=1.0, seed=5)
    assert torch.equal(unchanged(glands[:2]), RandScannerResample(prob=1.0, max_shift=0.0, seed=5)(glands[:2]))
