"""CentredCube: the dataset's crop from any grid (RAS, 1 mm, centred on the centre of mass) and its exact inverse."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose, Invertd

from monai_ext.data.scanner_grid import scanner_affine
from monai_ext.transforms import CentredCube, CentredCubed, centre_of_mass


def blob(shape: tuple[int, int, int], affine: np.ndarray, centre: np.ndarray, radii: tuple[float, ...]) -> MetaTensor:
    """A binary ellipsoid (world mm radii along R, A, S) at world ``centre`` on the grid ``affine``."""
    index = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1).reshape(-1, 3)
    world = index @ affine[:3, :3].T + affine[:3, 3]
    inside = (((world - centre) / np.asarray(radii)) ** 2).sum(axis=1) <= 1
    return MetaTensor(torch.from_numpy(inside.reshape(shape).astype(np.float32))[None], affine=torch.as_tensor(affine))


@pytest.fixture
def oblique() -> MetaTensor:
    """An ellipsoid off-centre on a tilted 0.7 x 0.7 x 2.5 mm grid in LPS voxel order."""
    affine = scanner_affine(shape=(60, 60, 16), degrees=(15.0, -10.0, 25.0), centre=(5.0, -3.0, 12.0))
    return blob((60, 60, 16), affine, np.array([12.0, -6.0, 16.0]), (9.0, 6.0, 8.0))


def test_cube_is_ras_1mm_and_centred_on_the_centre_of_mass(oblique: MetaTensor) -> None:
    cube = CentredCube(spatial_size=(32, 32, 32), threshold=0.5)(oblique)
    assert tuple(cube.shape) == (1, 32, 32, 32)
    np.testing.assert_allclose(cube.affine[:3, :3].numpy(), np.eye(3), atol=1e-9)
    np.testing.assert_allclose(centre_of_mass(cube), centre_of_mass(oblique), atol=0.5)
    voxel = np.argwhere(cube[0].numpy() > 0.5).mean(axis=0)
    np.testing.assert_allclose(voxel, 15.5, atol=0.5)  # the middle of 0..31
    volume_mm3 = float(oblique.sum()) * abs(np.linalg.det(oblique.affine[:3, :3].numpy()))
    assert float(cube.sum()) == pytest.approx(volume_mm3, rel=0.1)  # 1 mm voxels: the same volume


def test_centre_voxel_places_the_centre_of_mass(oblique: MetaTensor) -> None:
    cube = CentredCube(spatial_size=(32, 32, 32), centre_voxel=(18.0, 14.0, 16.5))(oblique)
    voxel = (np.argwhere(cube[0].numpy() > 0) * cube[0].numpy()[cube[0].numpy() > 0][:, None]).sum(0) / cube.sum()
    np.testing.assert_allclose(voxel, (18.0, 14.0, 16.5), atol=0.05)


def test_outside_the_image_is_zero_padding() -> None:
    mask = MetaTensor(torch.zeros(1, 10, 10, 10), affine=torch.eye(4, dtype=torch.float64))
    mask[0, 0:3, 0:3, 0:3] = 1.0  # a corner blob: most of the cube lies outside the image
    cube = CentredCube(spatial_size=(16, 16, 16))(mask)
    assert float(cube.sum()) == pytest.approx(27.0) and float(cube[0, :4].sum()) == 0.0


def test_same_grid_is_an_exact_crop() -> None:
    data = torch.zeros(1, 20, 20, 20)
    data[0, 6:11, 8:12, 5:13] = 1.0  # centre of mass (8, 9.5, 8.5)
    mask = MetaTensor(data, affine=torch.as_tensor(np.diag([1.0, 1.0, 1.0, 1.0])))
    cube = CentredCube(spatial_size=(8, 8, 8), centre_voxel=(3.5, 3.5, 3.5))(mask)
    # centre of mass - centre voxel = (4.5, 6, 5) voxels, rounded: the crop starts at (4, 6, 5), values untouched
    torch.testing.assert_close(cube.as_tensor()[0], data[0, 4:12, 6:14, 5:13], atol=1e-6, rtol=0)


def test_a_map_of_the_cube_returns_to_the_source_grid_with_invertd(oblique: MetaTensor) -> None:
    """Invertd semantics: a map computed on the cube comes back on the source grid and affine, where the cube was."""
    pre = Compose([CentredCubed(keys="image", spatial_size=(32, 32, 32), threshold=0.5)])
    cube = pre({"image": oblique})["image"]
    heat = cube.clone()  # a 'map' that is 1 on the gland in the cube
    inverted = Invertd(keys="heat", transform=pre, orig_keys="image", nearest_interp=False)(
        {"image": cube, "heat": heat}
    )["heat"]
    assert tuple(inverted.shape) == tuple(oblique.shape)
    np.testing.assert_allclose(inverted.affine.numpy(), oblique.affine.numpy(), atol=1e-6)
    back = inverted[0].numpy() > 0.5
    source = oblique[0].numpy() > 0.5
    assert 2 * (back & source).sum() / (back.sum() + source.sum()) > 0.85


def test_dictionary_twin_places_every_key_by_the_mask(oblique: MetaTensor) -> None:
    ct = MetaTensor(torch.randn_like(oblique.as_tensor()), affine=oblique.affine)
    out = CentredCubed(keys=("ct", "mask"), mask_key="mask", spatial_size=(16, 16, 16), threshold=(None, 0.5))(
        {"ct": ct, "mask": oblique}
    )
    torch.testing.assert_close(out["ct"].affine, out["mask"].affine)
    assert set(torch.unique(out["mask"]).tolist()) <= {0.0, 1.0}


def test_empty_mask_and_plain_tensors_are_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        CentredCube()(MetaTensor(torch.zeros(1, 4, 4, 4)))
    with pytest.raises(TypeError, match="MetaTensor"):
        CentredCube()(torch.ones(1, 4, 4, 4))
    with pytest.raises(TypeError, match="'image' is a Tensor, not a MetaTensor"):
        CentredCubed(keys="image")({"image": torch.ones(1, 4, 4, 4)})
