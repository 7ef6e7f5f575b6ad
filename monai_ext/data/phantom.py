"""A 3D Shepp-Logan-style head phantom in Hounsfield units, for the embedded demo and tests."""

from __future__ import annotations

import numpy as np

__all__ = ["head_phantom_hu"]

# (HU value added, centre x/y/z, semi-axes a/b/c, rotation about z in degrees); unit cube [-1, 1]^3.
_ELLIPSOIDS: tuple[tuple[float, tuple[float, float, float], tuple[float, float, float], float], ...] = (
    (1000.0 + 800.0, (0.0, 0.0, 0.0), (0.69, 0.92, 0.81), 0.0),  # skull (bone over air)
    (-770.0, (0.0, -0.0184, 0.0), (0.6624, 0.874, 0.78), 0.0),  # brain inside skull
    (-30.0 - 20.0, (0.22, 0.0, 0.0), (0.11, 0.31, 0.22), -18.0),  # right ventricle (CSF)
    (-30.0 - 20.0, (-0.22, 0.0, 0.0), (0.16, 0.41, 0.28), 18.0),  # left ventricle (CSF)
    (40.0, (0.0, 0.35, -0.15), (0.21, 0.25, 0.41), 0.0),  # lesion
    (25.0, (0.0, 0.1, 0.25), (0.046, 0.046, 0.05), 0.0),  # small lesion
    (60.0, (-0.08, -0.605, 0.0), (0.046, 0.023, 0.05), 0.0),  # haemorrhage-like spot
)


def head_phantom_hu(shape: tuple[int, int, int] = (64, 64, 32)) -> np.ndarray:
    """Shepp-Logan-style head phantom.

    Args:
        shape: ``(I, J, K)`` voxels.

    Returns:
        ``(I, J, K)`` int16 array in HU: air -1000, bone about 800, brain about 30, CSF about -20.

    Example:
        >>> vol = head_phantom_hu((16, 16, 8))
        >>> vol.shape, int(vol.min()), int(vol.max()) > 500
        ((16, 16, 8), -1000, True)
    """
    axes = [np.linspace(-1.0, 1.0, n) for n in shape]
    x, y, z = np.meshgrid(*axes, indexing="ij")
    volume = np.full(shape, -1000.0)
    for value, (cx, cy, cz), (a, b, c), angle in _ELLIPSOIDS:
        t = np.radians(angle)
        xr = (x - cx) * np.cos(t) + (y - cy) * np.sin(t)
        yr = -(x - cx) * np.sin(t) + (y - cy) * np.cos(t)
        inside = (xr / a) ** 2 + (yr / b) ** 2 + ((z - cz) / c) ** 2 <= 1.0
        volume[inside] += value
    return np.rint(volume).astype(np.int16)
