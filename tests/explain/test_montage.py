"""Overlay montage: a valid PNG of the right size, the hottest voxel, radiological orientation, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.image import imread

from monai_ext.explain.display.montage import save_overlay_montage

SHAPE = (16, 12, 8)  # (I, J, K): every plane has its own aspect ratio


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) runs of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _panels(png: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(top, bottom, left, right) pixel boxes of the three image panels (the widest non-white blocks), left to right."""
    filled = png[..., :3].min(axis=2) < 0.9
    columns = sorted(_runs(filled.mean(axis=0) > 0.4), key=lambda r: r[1] - r[0])[-3:]
    boxes = []
    for left, right in sorted(columns):
        top, bottom = max(_runs(filled[:, left:right].mean(axis=1) > 0.5), key=lambda r: r[1] - r[0])
        boxes.append((top, bottom, left, right))
    return boxes


def test_png_size_hottest_voxel_and_radiological_orientation(tmp_path: Path) -> None:
    heat = np.zeros(SHAPE)
    heat[12:15, 8:11, 5:7] = 0.8  # toward the patient's right (high I), anterior (high J), superior (high K)
    heat[13, 9, 6] = 0.9
    out = tmp_path / "montage.png"
    hottest = save_overlay_montage(np.zeros(SHAPE), heat, out, title="t", alpha=1.0, threshold=0.5)
    assert hottest == tuple(int(v) for v in np.unravel_index(np.argmax(heat), SHAPE)) == (13, 9, 6)
    png = imread(out)
    assert png.shape == (400, 1200, 4)
    boxes = _panels(png)
    # axial (I, J), coronal (I, K), sagittal (J, K)
    for (top, bottom, left, right), (width, height) in zip(boxes, [(16, 12), (16, 8), (12, 8)], strict=True):
        assert (right - left) / (bottom - top) == pytest.approx(width / height, rel=0.05)
        panel = png[top:bottom, left:right, :3]
        hot = (panel[..., 0] > 0.7) & (panel[..., 2] < 0.3)  # orange heat, not the white letters
        rows, cols = np.nonzero(hot)
        assert hot.sum() > 20
        # right (axial, coronal) or anterior (sagittal) on the viewer's left; anterior or superior up
        assert cols.mean() < 0.4 * (right - left) and rows.mean() < 0.4 * (bottom - top)


def test_spacing_sets_the_aspect_and_tensors_with_leading_axes(tmp_path: Path) -> None:
    heat = torch.zeros(1, 1, *SHAPE)
    heat[0, 0, 3, 4, 5] = 1
    out = tmp_path / "m.png"
    assert save_overlay_montage(torch.rand(1, *SHAPE), heat, out, spacing=(1.0, 1.0, 3.0)) == (3, 4, 5)
    (top, bottom, left, right) = _panels(imread(out))[1]  # coronal: 16 x (8 * 3 mm)
    assert (right - left) / (bottom - top) == pytest.approx(16 / 24, rel=0.05)


def test_bad_inputs_raise(tmp_path: Path) -> None:
    out = tmp_path / "m.png"
    with pytest.raises(ValueError, match="same grid"):
        save_overlay_montage(np.zeros(SHAPE), np.zeros((16, 12, 9)), out)
    with pytest.raises(ValueError, match="3D"):
        save_overlay_montage(np.zeros((2, *SHAPE)), np.zeros((2, *SHAPE)), out)
    with pytest.raises(ValueError, match="spacing"):
        save_overlay_montage(np.zeros(SHAPE), np.zeros(SHAPE), out, spacing=(1.0, 0.0, 1.0))
    assert not any(tmp_path.iterdir())


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "m.png"
    out.write_bytes(b"previous")
    rng = np.random.default_rng(0)
    save_overlay_montage(rng.random(SHAPE), rng.random(SHAPE), out)
    assert imread(out).shape == (400, 1200, 4)  # replaced on success
    assert [p.name for p in tmp_path.iterdir()] == ["m.png"]  # no temporary file left
    good = out.read_bytes()

    def half_written(self: Figure, fname: str, **kwargs: object) -> None:
        Path(fname).write_bytes(b"\x89PNG partial")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", half_written)
    with pytest.raises(OSError, match="disk full"):
        save_overlay_montage(rng.random(SHAPE), rng.random(SHAPE), out)
    assert out.read_bytes() == good  # the old file survives a failed write
    assert [p.name for p in tmp_path.iterdir()] == ["m.png"]
