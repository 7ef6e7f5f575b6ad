"""``mask_distance`` against SciPy's city-block distance transform, on shapes anywhere in the volume."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from monai_ext.transforms import MaskDistance, mask_distance

ndimage = pytest.importorskip("scipy.ndimage")


def _reference(mask: np.ndarray, max_distance: float) -> np.ndarray:
    """City-block distance to the nearest background voxel, outside the volume being background (SciPy)."""
    padded = np.pad(mask > 0.5, 1)
    distance = ndimage.distance_transform_cdt(padded, metric="taxicab")[1:-1, 1:-1, 1:-1]
    return np.minimum(np.minimum(distance, math.ceil(max_distance)) / max_distance, 1.0)


def _blob(shape: tuple[int, int, int], centre: tuple[float, float, float], radii: tuple[float, float, float]):
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"))
    inside = sum(((grid[i] - centre[i]) / radii[i]) ** 2 for i in range(3)) <= 1.0
    return inside.astype(np.float32)


@pytest.mark.parametrize("max_distance", [1, 2.625, 6, 40])
def test_matches_the_scipy_city_block_distance(max_distance: float) -> None:
    shape = (19, 23, 17)
    masks = [
        _blob(shape, (9, 11, 8), (7, 9, 6)),  # centred
        _blob(shape, (2, 3, 14), (4, 5, 3)),  # in a corner, cut by three faces
        _blob(shape, (15, 20, 2), (2, 1.5, 2)),  # small, off-centre
        np.ones(shape, np.float32),  # the whole volume: only the faces bound it
        np.zeros(shape, np.float32),
    ]
    batch = torch.from_numpy(np.stack(masks))[:, None]
    out = mask_distance(batch, max_distance=max_distance)
    for i, mask in enumerate(masks):
        np.testing.assert_allclose(out[i, 0].numpy(), _reference(mask, max_distance), rtol=0, atol=1e-7)


def test_each_case_of_a_batch_is_its_own_and_the_input_is_untouched() -> None:
    shape = (16, 16, 16)
    a, b = _blob(shape, (3, 3, 3), (2, 3, 2)), _blob(shape, (12, 11, 12), (3, 4, 3))
    batch = torch.from_numpy(np.stack([a, b]))[:, None]
    before = batch.clone()
    together = mask_distance(batch, max_distance=6)
    alone = torch.cat([mask_distance(batch[i : i + 1], max_distance=6) for i in range(2)])
    assert torch.equal(together, alone)
    assert torch.equal(batch, before)


def test_channels_last_bfloat16_and_two_channels_give_the_same_map() -> None:
    mask = torch.from_numpy(_blob((12, 14, 10), (6, 5, 4), (4, 5, 3)))[None, None]
    expected = mask_distance(mask, max_distance=6)
    assert torch.equal(mask_distance(mask.contiguous(memory_format=torch.channels_last_3d), max_distance=6), expected)
    assert torch.equal(mask_distance(mask.bfloat16(), max_distance=6), expected)
    two = MaskDistance(max_distance=6)(torch.cat([mask[0], torch.flip(mask[0], dims=(1,))]))
    assert two.shape == (4, 12, 14, 10)
    assert torch.equal(two[2:3], expected[0]) and torch.equal(two[3:4], torch.flip(expected[0], dims=(1,)))


def test_erosions_stop_once_the_shape_is_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    """``max_distance`` 1000 (the allow-list's bound) on a shape 3 voxels deep costs 3 erosions, not 1000."""
    from monai_ext.transforms.masks import mask_distance as module

    calls = []
    erode = module._erode6
    monkeypatch.setattr(module, "_erode6", lambda mask: calls.append(1) or erode(mask))
    mask = torch.from_numpy(_blob((32, 32, 32), (16, 16, 16), (2.5, 2.5, 2.5)))[None, None]
    out = mask_distance(mask, max_distance=1000)
    np.testing.assert_allclose(out[0, 0].numpy(), _reference(mask[0, 0].numpy(), 1000), rtol=0, atol=1e-7)
    assert len(calls) == 3
