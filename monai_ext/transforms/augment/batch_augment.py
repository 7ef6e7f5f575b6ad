"""Rotation, shift and flip augmentation applied to a whole batch at once (one resampling call).

The per-sample MONAI transforms (:class:`~monai_ext.transforms.RandKerasAugment`) resample each volume
separately inside DataLoader workers; on a small CPU that dominates training time. Here one
``affine_grid``/``grid_sample`` pass handles a ``(B, C, D, H, W)`` batch with a different random rotation
and shift per sample, on whatever device the batch lives (the GPU when training there). Flips are free
(folded into the affine) and rotations can be applied to a fraction ``prob`` of the samples only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["RandBatchAugment", "rotation_matrices"]


def rotation_matrices(angles: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``Rx @ Ry @ Rz`` for per-sample angles.

    Args:
        angles: radians, shape ``(B, 3)`` (about axes 0, 1, 2).

    Returns:
        Tensor ``(B, 3, 3)``.
    """
    cos, sin = torch.cos(angles), torch.sin(angles)
    one, zero = torch.ones_like(angles[:, 0]), torch.zeros_like(angles[:, 0])

    def mat(*rows: torch.Tensor) -> torch.Tensor:
        return torch.stack(rows, dim=1).view(-1, 3, 3)

    rx = mat(one, zero, zero, zero, cos[:, 0], -sin[:, 0], zero, sin[:, 0], cos[:, 0])
    ry = mat(cos[:, 1], zero, sin[:, 1], zero, one, zero, -sin[:, 1], zero, cos[:, 1])
    rz = mat(cos[:, 2], -sin[:, 2], zero, sin[:, 2], cos[:, 2], zero, zero, zero, one)
    return rx @ ry @ rz


class RandBatchAugment:
    """Random per-sample rotation, shift and flips of a channel-first 3D batch.

    ``randomize(batch_size)`` draws, from this instance's own generator, for each sample: with
    probability ``prob`` a rotation uniform in ``±rotation_range`` degrees about each axis and a shift
    uniform in ``±shift_range`` of each axis' size (else neither), and a flip of each of ``flip_axes``
    with probability 1/2. ``__call__`` draws and applies; :meth:`apply` replays the last draw.

    Args:
        rotation_range: maximum absolute angle in degrees (0 disables rotation).
        shift_range: maximum absolute shift as a fraction of the axis size (0 disables shifts).
        flip_axes: spatial axes (0, 1, 2 = D, H, W) that may be flipped.
        prob: probability that a sample is rotated and shifted.
        padding_mode: ``grid_sample`` padding: ``"zeros"``, ``"border"`` or ``"reflection"``.
        seed: seed of the generator (``None``: random).

    Example:
        >>> aug = RandBatchAugment(rotation_range=0, shift_range=0, flip_axes=(0,), seed=0)
        >>> x = torch.arange(8.0).view(1, 1, 2, 2, 2)
        >>> y = aug(x)
        >>> bool(torch.equal(y, x) or torch.equal(y, x.flip(2)))
        True
    """

    def __init__(
        self,
        *,
        rotation_range: float = 15.0,
        shift_range: float = 0.1,
        flip_axes: Sequence[int] = (0, 1, 2),
        prob: float = 0.5,
        padding_mode: str = "zeros",
        seed: int | None = None,
    ) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"prob must be in [0, 1], got {prob}")
        if any(axis not in (0, 1, 2) for axis in flip_axes):
            raise ValueError(f"flip_axes must be among (0, 1, 2), got {tuple(flip_axes)}")
        self.rotation_range = float(rotation_range)
        self.shift_range = float(shift_range)
        self.flip_axes = tuple(flip_axes)
        self.prob = float(prob)
        self.padding_mode = padding_mode
        self.generator = torch.Generator()
        self.generator.manual_seed(int(torch.seed() if seed is None else seed))
        self.angles = torch.zeros(0, 3)
        self.shifts = torch.zeros(0, 3)
        self.flips = torch.zeros(0, 3, dtype=torch.bool)

    def randomize(self, batch_size: int) -> None:
        """Draw the parameters of ``batch_size`` samples (``self.angles``, ``self.shifts``, ``self.flips``)."""
        g = self.generator
        moved = torch.rand(batch_size, 1, generator=g) < self.prob
        self.angles = (torch.rand(batch_size, 3, generator=g) * 2 - 1) * math.radians(self.rotation_range) * moved
        self.shifts = (torch.rand(batch_size, 3, generator=g) * 2 - 1) * self.shift_range * moved
        allowed = torch.zeros(3, dtype=torch.bool)
        allowed[list(self.flip_axes)] = True
        self.flips = (torch.rand(batch_size, 3, generator=g) < 0.5) & allowed

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The generator state (so a resumed training run continues the same random sequence)."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore the generator state."""
        self.generator.set_state(state["generator"])

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        """Draw new parameters and augment ``batch`` of shape ``(B, C, D, H, W)``."""
        self.randomize(batch.shape[0])
        return self.apply(batch)

    def apply(self, batch: torch.Tensor) -> torch.Tensor:
        """Apply the last draw to ``batch`` ``(B, C, D, H, W)``; returns a new tensor of the same shape.

        Raises:
            ValueError: ``batch`` is not 5D or its size differs from the last draw.

        The result is float32 and keeps ``batch``'s device; the input is not modified.
        """
        if batch.ndim != 5 or batch.shape[0] != len(self.flips):
            raise ValueError(f"expected a (B, C, D, H, W) batch of {len(self.flips)}, got shape {tuple(batch.shape)}")
        out = batch.float().clone()
        moved = (self.angles != 0).any(1) | (self.shifts != 0).any(1)
        if moved.any():
            index = moved.nonzero()[:, 0]
            out[index.to(out.device)] = self._resample(out[index.to(out.device)], index)
        for i in range(len(out)):
            dims = [1 + axis for axis in range(3) if self.flips[i, axis]]
            if dims:
                out[i] = out[i].flip(dims)
        return out

    def _resample(self, batch: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Rotate and shift the samples ``index`` of the last draw; ``batch`` holds only those samples."""
        # affine_grid works in (x, y, z) = (W, H, D) order: reverse the spatial axes of angles and shifts.
        rot = rotation_matrices(self.angles[index].flip(1)).to(batch)
        theta = torch.cat([rot, (2 * self.shifts[index].flip(1)).to(batch)[:, :, None]], dim=2)
        grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
        return F.grid_sample(batch, grid, mode="bilinear", padding_mode=self.padding_mode, align_corners=False)
