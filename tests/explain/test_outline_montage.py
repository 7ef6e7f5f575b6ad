"""Heatmap over the CT with the structure outlined: CT greys through a soft-tissue window, the outline, the focus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from monai_ext.explain.display.display_range import display_range, looks_like_ct
from monai_ext.explain.display.montage import save_overlay_montage
from monai_ext.explain.display.outline_montage import OutlineStyle, focus_voxel, save_outline_montage
from tests.explain.test_montage import _panels

SHAPE = (48, 40, 24)  # (I, J, K), RAS voxel order, 1 mm
FAT_HU, GLAND_HU = -100.0, 40.0  # W400/L40 shows them at (-100 + 160) / 400 = 0.15 and 0.5 grey


def _case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A CT (fat around a soft-tissue 'gland'), the gland's mask, and heat at its right (high I) end only."""
    grid = np.meshgrid(*[np.arange(n) - (n - 1) / 2 for n in SHAPE], indexing="ij")
    mask = ((grid[0] / 12) ** 2 + (grid[1] / 6) ** 2 + (grid[2] / 5) ** 2) <= 1.0
    ct = np.where(mask, GLAND_HU, FAT_HU)
    heat = np.zeros(SHAPE)
    heat[mask & (grid[0] > 6)] = 0.75  # the patient's right end of the gland (orange in inferno)
    return ct, mask.astype(np.uint8), heat


def _colours(png: np.ndarray, box: tuple[int, int, int, int]) -> dict[str, np.ndarray]:
    top, bottom, left, right = box
    rgb = png[top:bottom, left:right, :3]
    neutral = rgb.max(axis=2) - rgb.min(axis=2) < 0.02
    return {
        "fat": neutral & (np.abs(rgb[..., 0] - 0.15) < 0.03),
        "gland": neutral & (np.abs(rgb[..., 0] - 0.5) < 0.03),
        "outline": (rgb[..., 0] < 0.35) & (rgb[..., 1] > 0.75) & (rgb[..., 2] > 0.75),
        "heat": (rgb[..., 0] > 0.6) & (rgb[..., 2] < 0.35) & ~neutral,
    }


def test_the_ct_shows_through_a_soft_tissue_window_with_the_gland_outlined(tmp_path: Path) -> None:
    ct, mask, heat = _case()
    on_ct, on_mask = tmp_path / "ct.png", tmp_path / "mask.png"
    focus = save_outline_montage(ct, heat, mask, on_ct, window=display_range(ct, modality="CT"), title="left")
    save_overlay_montage(mask, heat, on_mask, threshold=0.2)  # what a label-map run drew before
    assert mask[focus] and heat[focus] == 0.75
    png, before = imread(on_ct), imread(on_mask)
    assert png.shape == (400, 1200, 4)
    boxes = _panels(png)
    assert len(boxes) == 3
    for name, box in zip(("axial", "coronal", "sagittal"), boxes, strict=True):
        colours = _colours(png, box)
        area = (box[1] - box[0]) * (box[3] - box[2])
        assert colours["fat"].sum() > 0.2 * area  # the fat around the gland, at -100 HU
        assert colours["outline"].sum() > 300  # the gland's outline
        assert colours["heat"].sum() > 20
        if name != "sagittal":  # the sagittal slice goes through the heated end only
            assert colours["gland"].sum() > 1000  # the gland's unheated part, at 40 HU
    for box in _panels(before):  # over the mask: black and white, no fat or gland greys (but at edges), no outline
        colours = _colours(before, box)
        area = (box[1] - box[0]) * (box[3] - box[2])
        assert colours["fat"].sum() < 0.01 * area and colours["gland"].sum() < 0.01 * area
        assert colours["outline"].sum() < 50  # only the cyan cross at the hottest voxel


def test_heat_is_on_the_patients_right_and_inside_the_outline(tmp_path: Path) -> None:
    ct, mask, heat = _case()
    out = tmp_path / "m.png"
    save_outline_montage(ct, heat, mask, out, window=(-160.0, 240.0), style=OutlineStyle(alpha=1.0))
    png = imread(out)
    top, bottom, left, right = axial = _panels(png)[0]
    colours = _colours(png, axial)
    heat_cols = np.nonzero(colours["heat"])[1]
    outline_cols = np.nonzero(colours["outline"])[1]
    assert heat_cols.size > 50
    # radiological: the patient's right (high I) on the viewer's left, so the heat lies left of the outline's middle
    assert heat_cols.mean() < outline_cols.mean()
    assert outline_cols.min() <= heat_cols.min() and heat_cols.max() <= outline_cols.max() + 2
    # the gland (24 x 12 voxels in the axial plane) plus 30 mm on each side: the whole 48 x 40 slice here
    assert (right - left) / (bottom - top) == pytest.approx(48 / 40, rel=0.05)
    extent = [int(np.ptp(np.nonzero(mask)[axis])) + 1 for axis in (0, 1)]
    assert extent == [24, 12]
    close = tmp_path / "close.png"
    save_outline_montage(ct, heat, mask, close, window=(-160.0, 240.0), style=OutlineStyle(margin_mm=2.0))
    top, bottom, left, right = _panels(imread(close))[0]
    assert (right - left) / (bottom - top) == pytest.approx((24 + 4) / (12 + 4), rel=0.05)


def test_focus_is_the_hottest_voxel_of_the_structure() -> None:
    mask = np.zeros((6, 6, 6), bool)
    mask[1:4, 1:4, 1:4] = True
    heat = np.zeros((6, 6, 6))
    heat[5, 5, 5] = 1.0  # hotter, but outside the structure
    heat[3, 1, 2] = 0.4
    assert focus_voxel(heat, mask) == (3, 1, 2)
    heat[1:4, 1:4, 3] = 0.5  # a plateau of the hottest heat: its middle
    assert focus_voxel(heat, mask) == (2, 2, 3)
    assert focus_voxel(np.zeros((6, 6, 6)), mask) == (2, 2, 2)  # no heat on it: its centre


def test_display_range_windows_ct_and_takes_percentiles_otherwise() -> None:
    rng = np.random.default_rng(0)
    ct = rng.normal(40.0, 20.0, (30, 30, 30))
    ct[:5] = -1000.0  # air
    assert looks_like_ct(ct) and display_range(ct) == (-160.0, 240.0)
    assert display_range(ct[5:], modality="CT") == (-160.0, 240.0)  # a CT without air, known by its modality
    mr = rng.gamma(2.0, 200.0, (30, 30, 30))
    low, high = display_range(mr)
    assert not looks_like_ct(mr)
    assert (low, high) == pytest.approx(tuple(np.percentile(mr, [0.5, 99.5])))
    assert display_range(np.full((4, 4, 4), 7.0)) == (7.0, 8.0)  # a constant image still gets a range


def test_bad_inputs_raise_and_write_nothing(tmp_path: Path) -> None:
    ct, mask, heat = _case()
    out = tmp_path / "m.png"
    with pytest.raises(ValueError, match="one grid"):
        save_outline_montage(ct, heat, mask[:-1], out, window=(0.0, 1.0))
    with pytest.raises(ValueError, match="empty"):
        save_outline_montage(ct, heat, np.zeros(SHAPE), out, window=(0.0, 1.0))
    with pytest.raises(ValueError, match="window"):
        save_outline_montage(ct, heat, mask, out, window=(240.0, -160.0))
    with pytest.raises(ValueError, match="spacing"):
        save_outline_montage(ct, heat, mask, out, window=(0.0, 1.0), spacing=(1.0, -1.0, 1.0))
    assert not any(tmp_path.iterdir())
