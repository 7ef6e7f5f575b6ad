"""Reproducible GAN samples: latents from a seed, generated volumes, NIfTI files and a PNG grid of mid-slices."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from monai_ext.io.atomic import atomic_path

__all__ = ["generate_volumes", "mid_slice_grid", "sample_latents", "save_volumes"]


def sample_latents(num_samples: int, latent_size: int, seed: int) -> torch.Tensor:
    """``(num_samples, latent_size)`` standard-normal latents from a CPU generator seeded with ``seed``
    (the same on every device and machine)."""
    rng = torch.Generator(device="cpu").manual_seed(int(seed))
    return torch.randn(int(num_samples), int(latent_size), generator=rng)


@torch.no_grad()
def generate_volumes(
    generator: nn.Module,
    *,
    num_samples: int,
    seed: int,
    latent_size: int | None = None,
    device: str | torch.device = "cpu",
    batch_size: int = 16,
) -> torch.Tensor:
    """Generate ``num_samples`` volumes ``(N, C, *spatial)`` float32 on the CPU, reproducibly from ``seed``.

    The generator runs in eval mode (batch-norm running statistics), so a sample does not depend on the
    others in its batch. ``latent_size`` defaults to ``generator.latent_size``.
    """
    module: Any = getattr(generator, "module", generator)
    size = int(latent_size if latent_size is not None else module.latent_size)
    z = sample_latents(num_samples, size, seed)
    module.eval()
    parts = [module(z[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(z), batch_size)]
    return torch.cat(parts)


def save_volumes(
    volumes: torch.Tensor,
    output_dir: str | os.PathLike[str],
    *,
    spacing: float = 1.0,
    prefix: str = "sample",
    grid_rows: int = 16,
) -> list[Path]:
    """Write ``(N, 1, D, H, W)`` volumes as ``<prefix>_<i:04d>.nii.gz`` and a ``mid_slices.png`` grid.

    The affine is ``diag(spacing, spacing, spacing, 1)`` with the first voxel at the origin (array axes
    ``D, H, W`` = NIfTI ``i, j, k``, RAS mm); MedMNIST publishes no physical voxel size for these crops.
    """
    from monai_ext.io.nifti import save_nifti
    from monai_ext.io.volume import Volume

    out = Path(output_dir)
    affine = np.diag([float(spacing)] * 3 + [1.0])
    paths = []
    for i, volume in enumerate(volumes):
        path = out / f"{prefix}_{i:04d}.nii.gz"
        save_nifti(Volume(array=volume[0].numpy().astype(np.float32), affine=affine), path, sidecar=False)
        paths.append(path)
    mid_slice_grid(volumes, out / "mid_slices.png", max_rows=grid_rows)
    return paths


def mid_slice_grid(volumes: torch.Tensor, path: str | os.PathLike[str], *, max_rows: int = 16) -> Path:
    """PNG (atomic) with one row per volume (at most ``max_rows``) and its three orthogonal mid-slices."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = min(len(volumes), max_rows)
    fig, axes = plt.subplots(rows, 3, figsize=(4.5, 1.5 * rows), dpi=100, squeeze=False)
    try:
        for r in range(rows):
            v = volumes[r, 0].float().numpy()
            d, h, w = (s // 2 for s in v.shape)
            for c, image in enumerate((v[d], v[:, h], v[:, :, w])):
                axes[r, c].imshow(image, cmap="gray", vmin=0, vmax=1)
                axes[r, c].set_axis_off()
        for c, name in enumerate(("axis 0", "axis 1", "axis 2")):
            axes[0, c].set_title(f"mid-slice {name}", fontsize=7)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
    return Path(path)
