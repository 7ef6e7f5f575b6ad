"""Orientation + spacing normalisation: axcodes, pixdim and a world-consistent affine."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from monai_ext.transforms import NormalizeGeometry, NormalizeGeometryd


def axcodes(img: MetaTensor) -> tuple[str | None, ...]:
    return tuple(nib.aff2axcodes(img.affine.numpy()))


def spacing(img: MetaTensor) -> np.ndarray:
    return np.linalg.norm(img.affine.numpy()[:3, :3], axis=0)


def world_centroid(img: MetaTensor) -> np.ndarray:
    """World (mm) position of the centroid of the voxels above 0.5."""
    voxels = np.argwhere(img[0].numpy() > 0.5).mean(axis=0)
    return (img.affine.numpy() @ np.append(voxels, 1.0))[:3]


def permuted(affine: torch.Tensor) -> torch.Tensor:
    """``affine`` with its first two voxel axes swapped (a 'PLS' volume)."""
    return affine[:, [1, 0, 2, 3]]


@pytest.mark.parametrize("pixdim", [(1.0, 1.0, 1.0), (1.5, 2.5, 2.0)])
@pytest.mark.parametrize("swap_axes", [False, True], ids=["LPS", "PLS"])
def test_ends_in_ras_with_requested_pixdim(cube_meta: MetaTensor, pixdim: tuple[float, ...], swap_axes: bool) -> None:
    if swap_axes:
        cube_meta = MetaTensor(cube_meta.as_tensor(), affine=permuted(cube_meta.affine), meta={"patient": "anon-1"})
    assert axcodes(cube_meta) == (("P", "L", "S") if swap_axes else ("L", "P", "S"))
    out = NormalizeGeometry(axcodes="RAS", pixdim=pixdim, mode="nearest")(cube_meta)
    assert isinstance(out, MetaTensor)
    assert axcodes(out) == ("R", "A", "S")
    np.testing.assert_allclose(spacing(out), pixdim)
    np.testing.assert_allclose(out.affine.numpy()[:3, :3], np.diag(pixdim), atol=1e-9)  # no rotation left
    # the affine is consistent: the cube sits at the same world position (within one output voxel)
    np.testing.assert_allclose(world_centroid(out), world_centroid(cube_meta), atol=max(pixdim))
    assert out.meta["patient"] == "anon-1"


def test_other_axcodes(cube_meta: MetaTensor) -> None:
    out = NormalizeGeometry(axcodes="LPS", pixdim=(2.0, 2.0, 3.0))(cube_meta)
    assert isinstance(out, MetaTensor)
    assert axcodes(out) == ("L", "P", "S")
    assert tuple(out.shape) == tuple(cube_meta.shape)  # already LPS at that spacing


def test_plain_array_is_taken_as_identity_affine() -> None:
    out = NormalizeGeometry(pixdim=(2.0, 2.0, 2.0))(np.zeros((1, 8, 8, 8), dtype=np.float32))
    assert tuple(out.shape) == (1, 4, 4, 4)


@pytest.mark.parametrize("pixdim", [(), (1.0, 0.0, 1.0), (1.0, -1.0, 1.0), (1.0, float("nan"), 1.0)])
def test_invalid_pixdim_raises(pixdim: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="pixdim"):
        NormalizeGeometry(pixdim=pixdim)


def test_dict_version_keeps_labels_and_alignment(cube_meta: MetaTensor) -> None:
    label = cube_meta * 3.0
    t = NormalizeGeometryd(keys=("image", "label"), label_keys="label", pixdim=(1.0, 1.0, 1.0))
    out = t({"image": cube_meta, "label": label})
    assert set(out["label"].unique().tolist()) == {0.0, 3.0}
    assert out["image"].shape == out["label"].shape
    assert torch.equal(out["image"].affine, out["label"].affine)
    assert axcodes(out["label"]) == ("R", "A", "S")
