"""The discriminator's realism map: Grad-CAM of its logit for one volume, in that volume's grid."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["realism_map", "write_realism_map"]


def realism_map(
    discriminator: nn.Module,
    image: torch.Tensor,
    *,
    spatial_size: Sequence[int],
    target_layer: str = "stages.1",
) -> torch.Tensor:
    """Grad-CAM of the discriminator's realism logit for one volume, in the volume's own grid.

    The volume is resized to the discriminator's input size and scaled to [0, 1] as in training, the map
    (1 = the region that most raises the "real" score) is resized back with trilinear interpolation.

    Args:
        discriminator: the trained discriminator.
        image: ``(D, H, W)`` or ``(1, D, H, W)`` volume, any size.
        spatial_size: the discriminator's input shape.
        target_layer: discriminator layer for Grad-CAM (``stages.1``: 1/4 of the input side).

    Returns:
        ``(D, H, W)`` float32 map in [0, 1].
    """
    from monai_ext.data.cases import preprocess_array
    from monai_ext.explain.attribution.gradcam import grad_cam

    volume = torch.as_tensor(image, dtype=torch.float32)
    volume = volume[None] if volume.ndim == 3 else volume
    device = next(discriminator.parameters()).device
    x = preprocess_array(volume, spatial_size=spatial_size)[None].to(device)
    cam = grad_cam(discriminator, x, target_layer, None).cpu()
    if tuple(cam.shape[2:]) != tuple(volume.shape[1:]):
        cam = F.interpolate(cam, size=tuple(volume.shape[1:]), mode="trilinear", align_corners=False)
    return cam[0, 0].clamp(0, 1)


def write_realism_map(
    discriminator: nn.Module,
    image_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    spatial_size: Sequence[int],
    target_layer: str = "stages.1",
) -> Path:
    """Read a NIfTI volume, compute :func:`realism_map` in its stored voxel order and write the map as NIfTI
    with the input's affine (same shape, same grid)."""
    from monai_ext.io.nifti import load_nifti, save_nifti
    from monai_ext.io.volume import Volume

    volume = load_nifti(image_path)
    if volume.array.ndim != 3:
        raise ValueError(f"{image_path}: expected a 3D volume, got shape {volume.array.shape}")
    cam = realism_map(
        discriminator,
        torch.as_tensor(np.asarray(volume.array, dtype=np.float32)),
        spatial_size=spatial_size,
        target_layer=target_layer,
    )
    return save_nifti(Volume(array=cam.numpy(), affine=volume.affine), output_path, sidecar=False)
