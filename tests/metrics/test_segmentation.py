"""Per-label Dice, HD95 and volumes against cases whose answers are known by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from monai_ext.metrics import label_metrics
from monai_ext.metrics.segmentation import surface_voxels


def _box(shape: tuple[int, int, int], lo: tuple[int, int, int], hi: tuple[int, int, int], value: int = 1) -> np.ndarray:
    out = np.zeros(shape, dtype=np.uint8)
    out[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = value
    return out


def test_identical_maps() -> None:
    ref = _box((16, 16, 16), (4, 4, 4), (10, 10, 10)) + _box((16, 16, 16), (10, 4, 4), (12, 10, 10), 2)
    scores = label_metrics(ref, ref, labels=[1, 2], spacing=(1.0, 1.0, 2.0))
    assert scores[1] == {"dice": 1.0, "hd95_mm": 0.0, "volume_mm3": 432.0, "reference_volume_mm3": 432.0}
    assert scores[2]["volume_mm3"] == 2 * 36 * 2.0


def test_shifted_box_dice_and_hd95_in_mm() -> None:
    ref = _box((24, 24, 24), (6, 6, 6), (14, 14, 14))
    pred = _box((24, 24, 24), (8, 6, 6), (16, 14, 14))  # shifted by 2 voxels along I
    scores = label_metrics(pred, ref, labels=[1], spacing=(1.5, 1.0, 1.0))[1]
    assert scores["dice"] == pytest.approx(2 * 6 * 8 * 8 / (2 * 512))
    assert scores["hd95_mm"] == pytest.approx(3.0)  # 2 voxels of 1.5 mm on the I faces
    assert scores["volume_mm3"] == scores["reference_volume_mm3"] == 512 * 1.5


def test_empty_labels_give_nan_or_zero() -> None:
    ref = _box((8, 8, 8), (2, 2, 2), (5, 5, 5))
    empty = np.zeros_like(ref)
    missed = label_metrics(empty, ref, labels=[1, 2])
    assert missed[1]["dice"] == 0.0 and math.isnan(missed[1]["hd95_mm"]) and missed[1]["volume_mm3"] == 0.0
    assert math.isnan(missed[2]["dice"]) and math.isnan(missed[2]["hd95_mm"])


def test_tensor_and_channel_inputs_and_errors() -> None:
    ref = _box((8, 8, 8), (2, 2, 2), (5, 5, 5))
    as_tensor = label_metrics(torch.as_tensor(ref[None]).float(), ref, labels=[1])
    assert as_tensor[1]["dice"] == 1.0
    with pytest.raises(ValueError, match="differ in shape"):
        label_metrics(ref[:4], ref, labels=[1])
    with pytest.raises(ValueError, match="positive voxel sizes"):
        label_metrics(ref, ref, labels=[1], spacing=(1.0, 0.0, 1.0))


def test_surface_of_a_box_is_its_shell() -> None:
    mask = torch.as_tensor(_box((10, 10, 10), (2, 2, 2), (7, 7, 7))).bool()
    surface = surface_voxels(mask)
    assert len(surface) == 5**3 - 3**3
    full = torch.ones(4, 4, 4, dtype=torch.bool)  # touching the grid edge: the edge counts as outside
    assert len(surface_voxels(full)) == 4**3 - 2**3
