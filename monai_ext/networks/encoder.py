"""A plain 3D convolutional encoder shared by the classifier, the autoencoder and the GAN discriminator."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.blocks import Convolution
from torch import nn

from monai_ext.networks.low_pass import LowPass

__all__ = ["Encoder"]


class Encoder(nn.Module):
    """Stacked convolution blocks that halve the resolution at each stage.

    Stage 0 is one convolution ``in_channels -> channels[0]`` with stride ``strides[0]``; every later
    stage ``i`` is a strided convolution ``channels[i-1] -> channels[i]`` followed by a convolution at the
    new resolution. Each convolution is followed by normalisation, dropout and activation (MONAI
    ``Convolution`` blocks, kernel 3). The same weights load into every network that holds an ``Encoder``
    (``backbone`` in the classifier, ``encoder`` in the autoencoder), which is how transfer learning works.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        channels: output channels of each stage.
        strides: stride of each stage's first convolution (same length as ``channels``).
        norm: MONAI norm name or ``(name, args)``, e.g. ``"batch"``, ``"instance"``, ``("group", {"num_groups": 8})``.
        act: MONAI activation name or ``(name, args)``.
        dropout: dropout probability inside each block.
        antialias: blur (:class:`~monai_ext.networks.low_pass.LowPass`, ``[1, 2, 1]``) the input of every strided
            stage, so the output moves less when the input moves by a voxel. The filter holds no weights: the
            state dict is the same with or without it.

    Example:
        >>> enc = Encoder(spatial_dims=3, in_channels=1, channels=(8, 16), strides=(2, 2))
        >>> enc(torch.zeros(2, 1, 32, 32, 32)).shape
        torch.Size([2, 16, 8, 8, 8])
    """

    def __init__(
        self,
        *,
        spatial_dims: int = 3,
        in_channels: int = 1,
        channels: Sequence[int] = (16, 32, 64, 128),
        strides: Sequence[int] = (2, 2, 2, 2),
        norm: str | tuple = "batch",
        act: str | tuple = "relu",
        dropout: float = 0.0,
        antialias: bool = False,
    ) -> None:
        super().__init__()
        if not channels or len(channels) != len(strides):
            raise ValueError(f"channels {tuple(channels)} and strides {tuple(strides)} must be non-empty, same length")
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.channels = tuple(int(c) for c in channels)
        self.strides = tuple(int(s) for s in strides)

        def conv(cin: int, cout: int, stride: int) -> Convolution:
            return Convolution(
                spatial_dims, cin, cout, strides=stride, kernel_size=3, norm=norm, act=act, dropout=dropout, bias=False
            )

        stages = [nn.Sequential(conv(in_channels, self.channels[0], self.strides[0]))]
        for cin, cout, stride in zip(self.channels[:-1], self.channels[1:], self.strides[1:], strict=True):
            stages.append(nn.Sequential(conv(cin, cout, stride), conv(cout, cout, 1)))
        self.stages = nn.ModuleList(stages)
        self.antialias = bool(antialias)
        inputs = (in_channels, *self.channels[:-1])
        self.low_pass = nn.ModuleList(
            LowPass(spatial_dims=spatial_dims, channels=cin) if self.antialias and stride > 1 else nn.Identity()
            for cin, stride in zip(inputs, self.strides, strict=True)
        )

    @property
    def out_channels(self) -> int:
        """Channels of the output feature map."""
        return self.channels[-1]

    @property
    def reduction(self) -> int:
        """Total downsampling factor (the product of the strides)."""
        factor = 1
        for stride in self.strides:
            factor *= stride
        return factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode ``x`` of shape ``(B, in_channels, *spatial)`` to ``(B, channels[-1], *spatial / reduction)``."""
        for low_pass, stage in zip(self.low_pass, self.stages, strict=True):
            x = stage(low_pass(x))
        return x
