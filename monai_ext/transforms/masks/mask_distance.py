"""Inner distance map of a binary mask: how deep each voxel lies inside the shape (local thickness).

Shape masks (e.g. MedMNIST's adrenal glands) carry their information in geometry. A CNN sees thickness
only through many layers of receptive field; giving it the distance to the background as a second
channel makes thickness explicit. The distance is the city-block (6-neighbour) distance in voxels,
computed by repeated erosions with the 6-neighbour cross, so it runs on batches on CPU or GPU without SciPy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.transforms import MapTransform, Transform
from monai.transforms.utils import generate_spatial_bounding_box
from monai.utils import TransformBackends

__all__ = ["MaskDistance", "MaskDistanced", "mask_distance"]


def mask_distance(mask: torch.Tensor, *, max_distance: float = 6) -> torch.Tensor:
    """City-block distance to the background, clipped at ``max_distance`` and divided by it.

    Args:
        mask: ``(B, C, D, H, W)`` with values > 0.5 inside the shape. Outside the volume counts as background.
        max_distance: distances (voxels) at or beyond this map to 1; a fraction (a distance given in mm on a
            coarse grid, e.g. 6 mm at 64/28 mm voxels = 2.625) saturates within its last erosion.

    Returns:
        Float32 tensor of ``mask``'s shape in [0, 1]: 0 outside, ``1/max_distance`` on the boundary layer,
        ``k/max_distance`` for voxels ``k`` erosions deep.

    Example:
        >>> m = torch.zeros(1, 1, 5, 5, 5); m[..., 1:4, 1:4, 1:4] = 1
        >>> mask_distance(m, max_distance=2)[0, 0, 2, 2].tolist()
        [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    if mask.ndim != 5:
        raise ValueError(f"expected a (B, C, D, H, W) mask, got shape {tuple(mask.shape)}")
    if not max_distance > 0:
        raise ValueError(f"max_distance must be positive, got {max_distance}")
    inside = mask > 0.5
    depth = torch.zeros_like(inside, dtype=torch.float32)
    box = _bounding_box(inside)
    if box is not None:  # erode only the box around the shapes: outside it every voxel is background anyway
        current = inside[box]
        window = depth[box]
        for _ in range(math.ceil(max_distance)):
            if not current.any():
                break
            window += current
            current = _erode6(current)
    return (depth / max_distance).clamp(max=1.0)


def _bounding_box(inside: torch.Tensor) -> tuple[slice, ...] | None:
    """The smallest box ``(:, :, d, h, w)`` holding every ``True`` voxel of the batch; ``None`` when none is."""
    start, end = generate_spatial_bounding_box(inside.any(dim=0))  # the (C, D, H, W) union of the batch
    if end[0] <= start[0]:  # MONAI's box of an empty mask has zero size
        return None
    return (slice(None), slice(None), *(slice(a, b) for a, b in zip(start, end, strict=True)))


def _erode6(mask: torch.Tensor) -> torch.Tensor:
    """Binary erosion of a boolean ``(B, C, D, H, W)`` mask with the 6-neighbour cross (outside is background).

    In place on a boolean copy, one axis at a time: a voxel stays inside only if both its neighbours along every
    axis are inside, and the first and last layer along each axis touch the outside. Boolean views keep the memory
    traffic at one byte per voxel, a quarter of a float32 ``minimum`` over padded shifts, for the same result.
    """
    out = mask.clone()
    for dim in range(2, 5):
        size = mask.shape[dim]
        out.narrow(dim, 0, 1).fill_(False)
        out.narrow(dim, size - 1, 1).fill_(False)
        if size > 2:
            inner = out.narrow(dim, 1, size - 2)
            inner &= mask.narrow(dim, 0, size - 2)
            inner &= mask.narrow(dim, 2, size - 2)
    return out


class MaskDistance(Transform):
    """Append the inner distance map of a channel-first mask ``(C, D, H, W)`` as extra channels.

    Args:
        max_distance: see :func:`mask_distance`.
        append: ``True`` returns ``(2C, D, H, W)`` (mask, then distance); ``False`` only the distance.
    """

    backend = [TransformBackends.TORCH]  # noqa: RUF012 - MONAI declares it as a plain list attribute

    def __init__(self, *, max_distance: float = 6, append: bool = True) -> None:
        self.max_distance = float(max_distance)
        self.append = append

    def __call__(self, img: NdarrayOrTensor) -> torch.Tensor:
        """Return the mask with its distance channel(s) (float32)."""
        image = torch.as_tensor(img, dtype=torch.float32)
        if image.ndim != 4:
            raise ValueError(f"{type(self).__name__}: expected a (C, D, H, W) mask, got shape {tuple(image.shape)}")
        distance = mask_distance(image[None], max_distance=self.max_distance)[0]
        return torch.cat([image, distance]) if self.append else distance


class MaskDistanced(MapTransform):
    """Dictionary wrapper of :class:`MaskDistance`."""

    def __init__(
        self, *, keys: KeysCollection, max_distance: float = 6, append: bool = True, allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = MaskDistance(max_distance=max_distance, append=append)

    def __call__(self, data: Mapping[Any, Any]) -> dict[Any, Any]:
        """Return a shallow copy of ``data`` with each key's distance channel(s) added."""
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.transform(d[key])
        return d
