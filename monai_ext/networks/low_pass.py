"""A fixed binomial low-pass filter: the anti-aliasing step in front of a strided convolution.

A strided convolution samples its input without filtering it first, so moving the input by one voxel can change the
output far more than the input changed (Zhang, "Making Convolutional Networks Shift-Invariant Again", ICML 2019).
Blurring with a small binomial kernel before every stride removes the frequencies the stride would alias. For the
adrenal classifier this is what keeps the answer on a gland re-cropped from a scanner grid (a sub-voxel shift of the
native cube) close to the answer on the native cube.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LowPass"]

_BINOMIAL = {1: (1.0,), 2: (1.0, 1.0), 3: (1.0, 2.0, 1.0), 4: (1.0, 3.0, 3.0, 1.0), 5: (1.0, 4.0, 6.0, 4.0, 1.0)}


class LowPass(nn.Module):
    """Depthwise separable binomial blur that keeps the spatial size (edge values repeated at the border).

    The kernel is a fixed, non-persistent buffer: it is not trained and not saved, so a network gains or loses the
    filter without any change to its state dict (weights trained without it still load).

    Args:
        spatial_dims: 1, 2 or 3.
        channels: channels of the input (each is filtered on its own).
        size: kernel length per axis, 1-5 (3 is ``[1, 2, 1] / 4``; 1 is the identity).

    Example:
        >>> blur = LowPass(spatial_dims=3, channels=2)
        >>> x = torch.zeros(1, 2, 5, 5, 5); x[:, :, 2, 2, 2] = 1
        >>> y = blur(x)
        >>> tuple(y.shape), round(float(y.sum()), 4), round(float(y[0, 0, 2, 2, 2]), 4)
        ((1, 2, 5, 5, 5), 2.0, 0.125)
    """

    def __init__(self, *, spatial_dims: int = 3, channels: int = 1, size: int = 3) -> None:
        super().__init__()
        if spatial_dims not in (1, 2, 3):
            raise ValueError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims}")
        if size not in _BINOMIAL:
            raise ValueError(f"size must be one of {sorted(_BINOMIAL)}, got {size}")
        if channels < 1:
            raise ValueError(f"channels must be positive, got {channels}")
        self.spatial_dims = spatial_dims
        self.channels = channels
        self.size = size
        taps = torch.tensor(_BINOMIAL[size])
        kernel = taps
        for _ in range(spatial_dims - 1):
            kernel = kernel[..., None] * taps
        kernel = kernel / kernel.sum()
        self.kernel: torch.Tensor
        self.register_buffer("kernel", kernel.expand(channels, 1, *kernel.shape).clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Blur ``x`` of shape ``(B, channels, *spatial)``; the output has the same shape, dtype and layout."""
        if self.size == 1:
            return x
        low = (self.size - 1) // 2
        pad = [low, self.size - 1 - low] * self.spatial_dims
        padded = F.pad(x, pad, mode="replicate")
        kernel = self.kernel.to(dtype=x.dtype)
        if self.spatial_dims == 3:  # branches, not a tuple of functions: TorchScript (ckpt_export) compiles them
            return F.conv3d(padded, kernel, groups=self.channels)
        if self.spatial_dims == 2:
            return F.conv2d(padded, kernel, groups=self.channels)
        return F.conv1d(padded, kernel, groups=self.channels)
