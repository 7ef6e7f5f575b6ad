"""3D convolutional autoencoder whose encoder is the classifier's :class:`~monai_ext.networks.encoder.Encoder`."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.blocks import Convolution
from torch import nn

from monai_ext.networks.encoder import Encoder

__all__ = ["Autoencoder"]


class Autoencoder(nn.Module):
    """Encoder, mirrored decoder of transposed convolutions, sigmoid output in [0, 1].

    ``encoder`` is an :class:`~monai_ext.networks.encoder.Encoder` built with the same arguments as the
    classifier's ``backbone``, so a trained autoencoder's ``encoder.*`` tensors load into
    :class:`~monai_ext.networks.classifier.Classifier` with :func:`monai_ext.engines.load_pretrained`
    (self-supervised pre-training).

    The decoder mirrors the encoder from the deepest stage up: each step is a transposed convolution
    undoing one stride (to the previous stage's channels) followed by a 3x3x3 convolution at the new
    resolution (except, by default, in the step back to ``channels[0]``: see ``refine_last``). The
    ``head``, a transposed convolution undoing ``strides[0]``, gives ``out_channels`` logits at full size
    directly (a full-resolution feature map would cost more than the whole encoder on a CPU), and the
    output is their sigmoid (binary masks and [0, 1] intensities). Transposed convolutions have
    kernel = stride, so they never overlap and leave no checkerboard pattern in the residual maps.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        out_channels: output channels (usually ``in_channels``).
        channels: encoder stage channels (the decoder uses them in reverse).
        strides: encoder stage strides; the input's spatial size must be divisible by their product.
        norm: MONAI norm name or ``(name, args)`` for both halves.
        act: MONAI activation name or ``(name, args)`` for both halves.
        dropout: dropout inside the blocks of both halves.
        refine_last: also refine the decoder stage that returns to ``channels[0]`` (the largest feature map;
            off by default because on a CPU it costs about as much as the rest of the decoder).

    Example:
        >>> net = Autoencoder(spatial_dims=3, in_channels=1, out_channels=1, channels=(4, 8), strides=(2, 2))
        >>> net(torch.zeros(2, 1, 16, 16, 16)).shape
        torch.Size([2, 1, 16, 16, 16])
    """

    def __init__(
        self,
        *,
        spatial_dims: int = 3,
        in_channels: int = 1,
        out_channels: int = 1,
        channels: Sequence[int] = (16, 32, 64, 128),
        strides: Sequence[int] = (2, 2, 2, 2),
        norm: str | tuple = "batch",
        act: str | tuple = "relu",
        dropout: float = 0.0,
        refine_last: bool = False,
    ) -> None:
        super().__init__()
        self.encoder = Encoder(
            spatial_dims=spatial_dims,
            in_channels=in_channels,
            channels=channels,
            strides=strides,
            norm=norm,
            act=act,
            dropout=dropout,
        )
        self.out_channels = out_channels
        chans = self.encoder.channels
        strides = self.encoder.strides
        # deepest first: undo strides[i] going chans[i] -> chans[i-1]
        ups = list(zip(chans[:0:-1], chans[-2::-1], strides[:0:-1], strict=True))
        self.decoder = nn.ModuleList(
            self._up_stage(spatial_dims, cin, cout, stride, norm, act, refine=refine_last or i < len(ups) - 1)
            for i, (cin, cout, stride) in enumerate(ups)
        )
        # the last step back to full size gives the logits directly: no feature map at full resolution
        self.head = Convolution(
            spatial_dims,
            chans[0],
            out_channels,
            strides=strides[0],
            kernel_size=strides[0],
            padding=0,
            output_padding=0,
            is_transposed=True,
            conv_only=True,
        )

    @staticmethod
    def _up_stage(
        spatial_dims: int, cin: int, cout: int, stride: int, norm: str | tuple, act: str | tuple, *, refine: bool
    ) -> nn.Sequential:
        """Non-overlapping transposed convolution (kernel = stride), then (``refine``) a 3x3x3 convolution."""
        up = Convolution(
            spatial_dims,
            cin,
            cout,
            strides=stride,
            kernel_size=stride,
            padding=0,
            output_padding=0,
            norm=norm,
            act=act,
            is_transposed=True,
            bias=False,
        )
        if not refine:
            return nn.Sequential(up)
        return nn.Sequential(up, Convolution(spatial_dims, cout, cout, kernel_size=3, norm=norm, act=act, bias=False))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decode a feature map ``(B, channels[-1], *spatial / reduction)`` to ``(B, out_channels, *spatial)``."""
        for stage in self.decoder:
            z = stage(z)
        return torch.sigmoid(self.head(z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction in [0, 1] with the shape of ``x`` ``(B, in_channels, D, H, W)``."""
        reduction = self.encoder.reduction
        for size in x.shape[2:]:  # a plain loop: TorchScript-compatible
            if size % reduction != 0:
                raise ValueError(f"spatial size {list(x.shape[2:])} must be divisible by {reduction}")
        return self.decode(self.encoder(x))
