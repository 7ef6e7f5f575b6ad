"""An abdomen-like CT phantom (HU) on any scanner grid, with adrenal glands where a radiologist expects them.

World coordinates are RAS mm with the origin in the middle of the abdomen. The organs are ellipsoids (body wall,
subcutaneous fat, liver, spleen, kidneys, aorta, inferior vena cava, spine) in retroperitoneal fat; the glands
(from shape masks, e.g. the GAN bundle's) sit above and medial to the kidneys, each in its own fat pad.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from monai_ext.data.scanner_grid import PlacedMask, embed_masks

__all__ = ["ADRENAL_CENTRES", "abdomen_phantom_hu"]

# (HU, centre R/A/S mm, semi-axes mm); later entries paint over earlier ones
_ORGANS: tuple[tuple[float, tuple[float, float, float], tuple[float, float, float]], ...] = (
    (-100.0, (0.0, 0.0, 0.0), (150.0, 110.0, 1e4)),  # subcutaneous fat
    (45.0, (0.0, 0.0, 0.0), (138.0, 98.0, 1e4)),  # muscle wall
    (-90.0, (0.0, 0.0, 0.0), (128.0, 88.0, 1e4)),  # intra-abdominal fat
    (60.0, (65.0, 15.0, 50.0), (65.0, 70.0, 75.0)),  # liver (patient's right: +R)
    (50.0, (-80.0, -15.0, 55.0), (32.0, 45.0, 50.0)),  # spleen
    (30.0, (55.0, -45.0, -15.0), (28.0, 24.0, 50.0)),  # right kidney
    (30.0, (-55.0, -45.0, -5.0), (28.0, 24.0, 50.0)),  # left kidney
    (150.0, (-12.0, -28.0, 0.0), (12.0, 12.0, 1e4)),  # aorta (contrast)
    (100.0, (22.0, -22.0, 0.0), (13.0, 11.0, 1e4)),  # inferior vena cava
    (450.0, (0.0, -62.0, 0.0), (22.0, 18.0, 1e4)),  # vertebral bodies
    (20.0, (0.0, -88.0, 0.0), (8.0, 7.0, 1e4)),  # spinal canal
)
# above and medial to each kidney, behind the inferior vena cava (right) and beside the aorta (left)
ADRENAL_CENTRES: dict[str, tuple[float, float, float]] = {
    "adrenal_gland_right": (38.0, -30.0, 52.0),
    "adrenal_gland_left": (-36.0, -32.0, 58.0),
}
_GLAND_HU, _FAT_PAD = 25.0, (-95.0, (22.0, 20.0, 26.0))


def abdomen_phantom_hu(
    affine: np.ndarray,
    shape: Sequence[int],
    glands: Mapping[int, PlacedMask],
    *,
    noise_hu: float = 12.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The CT ``(I, J, K)`` int16 HU and the label map ``(I, J, K)`` uint8 of ``glands`` on the grid ``affine``.

    Args:
        affine: RAS voxel-to-world matrix of the scanner grid.
        shape: ``(I, J, K)``.
        glands: label value -> the gland's 1 mm mask and centre (RAS mm).
        noise_hu: standard deviation of the Gaussian noise.
        seed: noise seed.
    """
    shape = tuple(int(s) for s in shape)
    ct = np.full(shape, -1000.0, dtype=np.float32)
    i, j = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    pads = [(np.asarray(g.centre, dtype=np.float64), _FAT_PAD[1]) for g in glands.values()]
    for k in range(shape[2]):
        world = np.stack([i, j, np.full_like(i, k)], axis=-1) @ affine[:3, :3].T + affine[:3, 3]
        plane = ct[:, :, k]
        for hu, centre, radii in _ORGANS:
            plane[(((world - np.asarray(centre)) / np.asarray(radii)) ** 2).sum(-1) <= 1] = hu
        for pad_centre, pad_radii in pads:
            plane[(((world - pad_centre) / np.asarray(pad_radii)) ** 2).sum(-1) <= 1] = _FAT_PAD[0]
    labels = embed_masks(glands, affine, shape)
    ct[labels > 0] = _GLAND_HU
    ct += np.random.default_rng(seed).normal(0.0, noise_hu, size=shape).astype(np.float32) * (ct > -1000)
    return np.clip(np.rint(ct), -1024, 3071).astype(np.int16), labels
