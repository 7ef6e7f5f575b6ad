"""Simulate a scanner acquisition of a mask cube and the dataset recipe's re-crop: a training augmentation.

A user's segmentation is drawn on a CT grid (e.g. 0.7 x 0.7 x 2.5 mm, tilted against the patient's axes). The
bundle's recipe (:class:`~monai_ext.transforms.CentredCube`) resamples it back onto the 1 mm cube the network was
trained on, and the round trip loses detail along the slice axis. :class:`RandScannerResample` puts each training
mask through the same round trip on a random grid (random in-plane and slice spacing, tilt and sub-voxel phase), so
the classifier learns features that survive it: its answer on a scanner grid stays close to its answer on the
native cube.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from monai_ext.transforms.augment.batch_augment import rotation_matrices

__all__ = ["RandScannerResample"]


def _pair(value: Sequence[float] | float, name: str) -> tuple[float, float]:
    low, high = (float(value), float(value)) if isinstance(value, int | float) else (float(value[0]), float(value[1]))
    if not 0 < low <= high:
        raise ValueError(f"{name} must be a positive (low, high) range, got {value}")
    return low, high


class RandScannerResample:
    """Round-trip a ``(B, C, D, H, W)`` batch of mask cubes through random scanner grids.

    For each sample, with probability ``prob``: draw a grid whose in-plane voxels are ``in_plane_spacing`` mm, whose
    slices are ``slice_spacing`` mm along ``slice_axis``, tilted by up to ``max_tilt`` degrees about each axis and
    shifted by a random fraction of a voxel; sample the cube onto it (trilinear, then ``>= 0.5``, as a segmentation
    drawn on that grid) and back onto the cube (trilinear, then ``>= 0.5``, as the recipe does). The cube's centre
    stays where it is.

    Args:
        prob: probability that a sample is resampled.
        voxel_size_mm: the cube's voxel size (1 for AdrenalMNIST3D 64^3, 64/28 for its 28^3 file).
        in_plane_spacing: ``(low, high)`` mm of the grid's two in-plane axes (one draw for both).
        slice_spacing: ``(low, high)`` mm of the grid's slice axis.
        slice_axis: the cube axis (0, 1, 2) the slices are stacked along (2 = S in a RAS cube).
        max_tilt: maximum absolute rotation in degrees about each axis.
        max_shift: the way back lands up to this many cube voxels off along each axis (uniform), as a re-crop
            centred on the acquired mask's centre of mass does; 0 keeps the cube where it was (and draws nothing,
            so the random sequence is the one of earlier versions).
        seed: seed of the generator (``None``: random).

    Example:
        >>> cube = torch.zeros(2, 1, 32, 32, 32); cube[:, :, 8:24, 10:22, 6:26] = 1
        >>> out = RandScannerResample(prob=1.0, slice_spacing=(2.5, 2.5), seed=0)(cube)
        >>> tuple(out.shape), sorted(out.unique().tolist())
        ((2, 1, 32, 32, 32), [0.0, 1.0])
    """

    def __init__(
        self,
        *,
        prob: float = 0.5,
        voxel_size_mm: float = 1.0,
        in_plane_spacing: Sequence[float] | float = (0.6, 1.0),
        slice_spacing: Sequence[float] | float = (1.0, 3.0),
        slice_axis: int = 2,
        max_tilt: float = 25.0,
        max_shift: float = 0.0,
        seed: int | None = None,
    ) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"prob must be in [0, 1], got {prob}")
        if slice_axis not in (0, 1, 2):
            raise ValueError(f"slice_axis must be 0, 1 or 2, got {slice_axis}")
        if voxel_size_mm <= 0:
            raise ValueError(f"voxel_size_mm must be positive, got {voxel_size_mm}")
        self.prob = float(prob)
        self.voxel_size_mm = float(voxel_size_mm)
        self.in_plane = _pair(in_plane_spacing, "in_plane_spacing")
        self.slice = _pair(slice_spacing, "slice_spacing")
        self.slice_axis = int(slice_axis)
        self.max_tilt = float(max_tilt)
        if max_shift < 0:
            raise ValueError(f"max_shift must be >= 0 voxels, got {max_shift}")
        self.max_shift = float(max_shift)
        self.generator = torch.Generator()
        self.generator.manual_seed(int(torch.seed() if seed is None else seed))

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The generator state (a resumed run continues the same random sequence)."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore the generator state."""
        self.generator.set_state(state["generator"])

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        """Return a new float32 ``(B, C, D, H, W)`` batch of 0/1 masks; ``batch`` is not modified.

        Raises:
            ValueError: ``batch`` is not 5D.
        """
        if batch.ndim != 5:
            raise ValueError(f"expected a (B, C, D, H, W) batch, got shape {tuple(batch.shape)}")
        out = batch.float().clone()
        g = self.generator
        chosen = (torch.rand(batch.shape[0], generator=g) < self.prob).tolist()
        for i, pick in enumerate(chosen):
            spacing, rotation, phase = self._draw(g)
            offset = self._draw_offset(g)
            if pick:
                out[i] = self._round_trip(out[i : i + 1], spacing, rotation, phase, offset)[0]
        return out

    def _draw(self, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Spacing ``(3,)`` mm in cube-axis order, rotation ``(3, 3)`` and phase ``(3,)`` voxels of one grid."""
        u = torch.rand(6, generator=g)
        in_plane = self.in_plane[0] + (self.in_plane[1] - self.in_plane[0]) * float(u[0])
        spacing = torch.full((3,), in_plane, dtype=torch.float64)
        spacing[self.slice_axis] = self.slice[0] + (self.slice[1] - self.slice[0]) * float(u[1])
        angles = (torch.rand(1, 3, generator=g, dtype=torch.float64) * 2 - 1) * math.radians(self.max_tilt)
        return spacing, rotation_matrices(angles)[0], u[3:].double() - 0.5

    def _draw_offset(self, g: torch.Generator) -> torch.Tensor | None:
        """The way back's offset ``(3,)`` in cube voxels, or ``None`` (nothing drawn) when ``max_shift`` is 0."""
        if not self.max_shift:
            return None
        return (torch.rand(3, generator=g, dtype=torch.float64) * 2 - 1) * self.max_shift

    def _round_trip(
        self,
        cube: torch.Tensor,
        spacing: torch.Tensor,
        rotation: torch.Tensor,
        phase: torch.Tensor,
        offset: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``(1, C, D, H, W)`` cube -> the scanner grid -> back, ``offset`` ``(3,)`` cube voxels off (default 0);
        all geometry in cube-axis order (D, H, W)."""
        size = torch.tensor(cube.shape[2:], dtype=torch.float64)
        extent = size * self.voxel_size_mm  # mm
        grid_size = torch.ceil(extent / spacing).long()
        # Scanner voxel k (normalised o = (2k + 1) / n - 1) lies at world R @ ((o n / 2 + phase) * spacing) mm from
        # the cube centre; cube normalised coordinates are world / (extent / 2).
        to_scanner = rotation * (spacing * grid_size.double() / extent)[None, :]
        shift = rotation @ (2 * phase * spacing) / extent
        acquired = _sample(cube, to_scanner, shift, tuple(grid_size.tolist()))
        back = torch.linalg.inv(to_scanner)
        moved = torch.zeros(3, dtype=torch.float64) if offset is None else 2 * offset / size
        return _sample(acquired, back, back @ (moved - shift), tuple(cube.shape[2:]))


def _sample(volume: torch.Tensor, matrix: torch.Tensor, shift: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """Trilinear sampling at ``matrix @ o + shift`` (normalised, D-H-W order), thresholded at 0.5."""
    # affine_grid and grid_sample take (x, y, z) = (W, H, D): reverse both axes orders.
    theta = torch.cat([matrix.flip(0, 1), shift.flip(0)[:, None]], dim=1)[None].to(volume)
    grid = F.affine_grid(theta, [1, volume.shape[1], *size], align_corners=False)
    sampled = F.grid_sample(volume, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return (sampled >= 0.5).to(volume.dtype)
