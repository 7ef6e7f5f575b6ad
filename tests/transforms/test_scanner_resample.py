"""The scanner round trip and the classifier's mask batch augmentation on real AdrenalMNIST3D glands."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from monai_ext.data.scanner_grid import PlacedMask, embed_masks, scanner_affine
from monai_ext.transforms import (
    CentredCube,
    MaskBatchAugment,
    RandBatchAugment,
    RandScannerResample,
    mask_distance,
)
from tests.transforms.conftest import dice


@pytest.fixture(scope="module")
def glands(val_glands: torch.Tensor) -> torch.Tensor:
    """Eight real AdrenalMNIST3D val glands, ``(8, 1, 64, 64, 64)`` 0/1."""
    return val_glands


def test_round_trip_keeps_the_gland_and_gives_a_mask(glands: torch.Tensor) -> None:
    out = RandScannerResample(prob=1.0, seed=0)(glands)
    assert out.shape == glands.shape
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    scores = [dice(glands[i, 0], out[i, 0]) for i in range(len(glands))]
    assert min(scores) > 0.8  # the same gland, coarsened
    assert max(scores) < 1.0  # and changed: a 1-3 mm slice grid loses detail
    assert torch.equal(glands, (glands > 0.5).float())  # the input is not modified


def test_prob_zero_is_the_identity_and_seeds_replay(glands: torch.Tensor) -> None:
    assert torch.equal(RandScannerResample(prob=0.0, seed=0)(glands), glands)
    a = RandScannerResample(prob=1.0, seed=3)
    b = RandScannerResample(prob=1.0, seed=3)
    assert torch.equal(a(glands), b(glands))
    state = a.state_dict()
    first = a(glands)
    a.load_state_dict(state)
    assert torch.equal(a(glands), first)


def test_thicker_slices_lose_more(glands: torch.Tensor) -> None:
    thin = RandScannerResample(prob=1.0, slice_spacing=(1.0, 1.0), in_plane_spacing=(0.7, 0.7), seed=1)(glands)
    thick = RandScannerResample(prob=1.0, slice_spacing=(4.0, 4.0), in_plane_spacing=(0.7, 0.7), seed=1)(glands)
    loss_thin = np.mean([1 - dice(glands[i, 0], thin[i, 0]) for i in range(len(glands))])
    loss_thick = np.mean([1 - dice(glands[i, 0], thick[i, 0]) for i in range(len(glands))])
    assert loss_thick > 2 * loss_thin


def test_round_trip_resembles_the_recipe_on_a_real_scanner_grid(glands: torch.Tensor) -> None:
    """Training's simulated round trip degrades a gland about as much as embedding it and re-cropping it does."""
    gland = glands[0, 0].numpy()
    affine = scanner_affine(shape=(160, 160, 60), spacing=(0.7, 0.7, 2.5), degrees=(10.0, -8.0, 5.0))
    centre = affine[:3, :3] @ (np.array([80.0, 80.0, 30.0])) + affine[:3, 3]
    labels = embed_masks({1: PlacedMask(mask=gland, centre=centre)}, affine, (160, 160, 60))
    image = MetaTensor(torch.from_numpy(labels.astype(np.float32))[None], affine=torch.as_tensor(affine))
    recropped = CentredCube(spatial_size=(64, 64, 64), centre_voxel=(32.5, 32.5, 32.5), threshold=0.5)(image)
    real = dice(glands[0, 0], recropped[0].as_tensor())
    simulated = RandScannerResample(
        prob=1.0, in_plane_spacing=(0.7, 0.7), slice_spacing=(2.5, 2.5), max_tilt=10.0, seed=0
    )(glands[:1])
    assert abs(dice(glands[0, 0], simulated[0, 0]) - real) < 0.08


def test_coarse_cube_scales_the_geometry() -> None:
    """On a 28^3 cube of 64/28 mm voxels a 1 mm scanner grid is finer than the cube: little is lost."""
    cube = torch.zeros(1, 1, 28, 28, 28)
    cube[:, :, 9:19, 8:20, 10:18] = 1
    out = RandScannerResample(
        prob=1.0, voxel_size_mm=64 / 28, in_plane_spacing=(1.0, 1.0), slice_spacing=(1.0, 1.0), max_tilt=0, seed=0
    )(cube)
    assert dice(cube[0, 0], out[0, 0]) > 0.9


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="slice_spacing"):
        RandScannerResample(slice_spacing=(3.0, 1.0))
    with pytest.raises(ValueError, match="prob"):
        RandScannerResample(prob=1.5)
    with pytest.raises(ValueError, match="got shape"):
        RandScannerResample()(torch.zeros(1, 8, 8, 8))


def test_mask_batch_augment_gives_binary_masks_and_their_distance(glands: torch.Tensor) -> None:
    aug = MaskBatchAugment(
        scanner=RandScannerResample(prob=1.0, seed=0),
        augment=RandBatchAugment(rotation_range=15, shift_range=0.1, prob=1.0, seed=0),
        max_distance=6,
    )
    state = aug.state_dict()
    out = aug(glands)
    assert out.shape == (8, 2, 64, 64, 64)
    assert set(out[:, 0].unique().tolist()) == {0.0, 1.0}  # binarised after the bilinear rotation
    assert torch.equal(out[:, 1:], mask_distance(out[:, :1], max_distance=6))
    aug.load_state_dict(state)
    assert torch.equal(aug(glands), out)  # a resumed run replays the same draws
    with pytest.raises(ValueError, match="batch of masks"):
        aug(out)


def test_fractional_max_distance_saturates() -> None:
    m = torch.zeros(1, 1, 9, 9, 9)
    m[..., 1:8, 1:8, 1:8] = 1
    d = mask_distance(m, max_distance=2.5)[0, 0, 4, 4]
    assert d.tolist() == pytest.approx([0.0, 0.4, 0.8, 1.0, 1.0, 1.0, 0.8, 0.4, 0.0])
    assert torch.equal(mask_distance(m, max_distance=6), mask_distance(m, max_distance=6.0))
