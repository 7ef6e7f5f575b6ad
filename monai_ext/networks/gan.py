"""A DCGAN-style 3D generator and a spectrally normalised 3D discriminator for shape volumes."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.blocks import ADN, Convolution, SubpixelUpsample
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["Discriminator", "Generator"]


class Generator(nn.Module):
    """Map a latent vector to a volume in [0, 1].

    A linear layer maps ``z`` to ``channels[0]`` feature maps of ``start_size`` voxels a side; every later
    stage doubles the resolution (nearest-neighbour upsampling, then a 3x3x3 convolution, normalisation and
    activation). The last doubling is a sub-pixel convolution (MONAI ``SubpixelUpsample`` with ICNR
    initialisation and pad-pool smoothing) followed by a sigmoid, so no convolution runs at the output
    resolution: on CPU, few-channel 3D convolutions at full resolution cost most of the time, their
    backward pass above all. The output side is ``start_size * 2 ** len(channels)``.

    Args:
        spatial_dims: 2 or 3.
        latent_size: length of the latent vector (standard normal at sampling time).
        out_channels: output channels.
        channels: feature channels per resolution, coarsest first.
        start_size: side of the first feature map.
        norm: MONAI norm name for the hidden blocks.
        act: MONAI activation name for the hidden blocks.

    Example:
        >>> g = Generator(latent_size=8, channels=(16, 8), start_size=4)
        >>> g(torch.zeros(2, 8)).shape
        torch.Size([2, 1, 16, 16, 16])
    """

    def __init__(
        self,
        *,
        spatial_dims: int = 3,
        latent_size: int = 64,
        out_channels: int = 1,
        channels: Sequence[int] = (128, 64, 32),
        start_size: int = 4,
        norm: str | tuple = "batch",
        act: str | tuple = "relu",
    ) -> None:
        super().__init__()
        if not channels:
            raise ValueError("channels must not be empty")
        self.spatial_dims = spatial_dims
        self.latent_size = latent_size
        self.channels = tuple(int(c) for c in channels)
        self.start_shape = (self.channels[0],) + (int(start_size),) * spatial_dims
        self.project = nn.Linear(latent_size, self.channels[0] * int(start_size) ** spatial_dims)
        self.stem = ADN(ordering="NA", in_channels=self.channels[0], act=act, norm=norm, norm_dim=spatial_dims)
        blocks: list[nn.Module] = []
        for cin, cout in zip(self.channels[:-1], self.channels[1:], strict=True):
            blocks.append(
                nn.Sequential(
                    nn.Upsample(scale_factor=2, mode="nearest"),
                    Convolution(spatial_dims, cin, cout, kernel_size=3, norm=norm, act=act, bias=False),
                )
            )
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            SubpixelUpsample(spatial_dims, self.channels[-1], out_channels, scale_factor=2, apply_pad_pool=True),
            nn.Sigmoid(),
        )

    @property
    def output_size(self) -> int:
        """Side of the generated volume in voxels."""
        return self.start_shape[1] * 2 ** len(self.channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, latent_size)`` latents -> ``(B, out_channels, S, S, S)`` volumes in [0, 1]."""
        x = self.project(z.flatten(1)).view(-1, *self.start_shape)
        return self.head(self.blocks(self.stem(x)))


class Discriminator(nn.Module):
    """Score how real a volume looks: one unbounded logit per sample (higher = more real).

    Every stage is a spectrally normalised 4x4x4 convolution with stride 2 and a leaky ReLU, so stage ``i``
    (``stages.<i>``, a Grad-CAM target layer) sees the input at ``1 / 2 ** (i + 1)`` of its side. A
    spectrally normalised linear layer over the last feature map gives the logit. No batch normalisation:
    samples in a batch do not interact, which Grad-CAM and DDP both need.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        channels: channels of each stride-2 stage.
        spatial_size: side of the input (needed by the linear head).
        negative_slope: leaky ReLU slope.

    Example:
        >>> d = Discriminator(channels=(8, 16), spatial_size=16)
        >>> d(torch.zeros(3, 1, 16, 16, 16)).shape
        torch.Size([3, 1])
    """

    def __init__(
        self,
        *,
        spatial_dims: int = 3,
        in_channels: int = 1,
        channels: Sequence[int] = (16, 32, 64),
        spatial_size: int = 32,
        negative_slope: float = 0.2,
    ) -> None:
        super().__init__()
        self.channels = tuple(int(c) for c in channels)
        final = int(spatial_size) // 2 ** len(self.channels)
        if not self.channels or final < 1 or int(spatial_size) % 2 ** len(self.channels):
            raise ValueError(
                f"spatial_size {spatial_size} must be divisible by 2 ** len(channels) = {2 ** len(channels)}"
            )
        conv = nn.Conv3d if spatial_dims == 3 else nn.Conv2d
        stages = []
        for cin, cout in zip((in_channels, *self.channels[:-1]), self.channels, strict=True):
            stages.append(
                nn.Sequential(
                    spectral_norm(conv(cin, cout, kernel_size=4, stride=2, padding=1)), nn.LeakyReLU(negative_slope)
                )
            )
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.Flatten(), spectral_norm(nn.Linear(self.channels[-1] * final**spatial_dims, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, S, S, S)`` -> realism logits ``(B, 1)``."""
        return self.head(self.stages(x))
