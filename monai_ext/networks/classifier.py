"""3D image classifier: an :class:`~monai_ext.networks.encoder.Encoder` backbone and a pooled linear head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from monai_ext.networks.encoder import Encoder

__all__ = ["Classifier"]


class Classifier(nn.Module):
    """Encoder, global average pooling, dropout and a linear layer giving class logits.

    Class imbalance: trained with a class-weighted loss, the logits learn ``log p(c|x) + log w_c``. Set the
    buffer ``prior_correction`` to ``log w`` (:meth:`set_prior_correction`) and it is subtracted from the
    logits in eval mode, so the softmax is again calibrated to the training prior and its arg-max maximises
    accuracy; AUC is unchanged (a per-class constant shift). The buffer is saved in the state dict.

    The backbone is the attribute ``backbone`` (freeze it, or load an autoencoder's ``encoder`` into it);
    the last backbone stage, ``backbone.stages.<n-1>``, is the natural Grad-CAM target layer.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        out_channels: number of classes (logits; apply softmax for probabilities).
        channels: backbone stage channels.
        strides: backbone stage strides.
        norm: backbone normalisation (MONAI name).
        dropout: dropout before the linear layer.
        block_dropout: dropout inside the backbone blocks.
        antialias: low-pass filter before every strided backbone stage (see :class:`Encoder`); off by default,
            and it does not change the state dict.

    Example:
        >>> net = Classifier(spatial_dims=3, in_channels=1, out_channels=2, channels=(8, 16), strides=(2, 2))
        >>> net(torch.zeros(3, 1, 32, 32, 32)).shape
        torch.Size([3, 2])
    """

    def __init__(
        self,
        *,
        spatial_dims: int = 3,
        in_channels: int = 1,
        out_channels: int = 2,
        channels: Sequence[int] = (16, 32, 64, 128),
        strides: Sequence[int] = (2, 2, 2, 2),
        norm: str | tuple = "batch",
        dropout: float = 0.3,
        block_dropout: float = 0.0,
        antialias: bool = False,
    ) -> None:
        super().__init__()
        self.backbone = Encoder(
            spatial_dims=spatial_dims,
            in_channels=in_channels,
            channels=channels,
            strides=strides,
            norm=norm,
            dropout=block_dropout,
            antialias=antialias,
        )
        pool = nn.AdaptiveAvgPool3d(1) if spatial_dims == 3 else nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(
            pool, nn.Flatten(), nn.Dropout(dropout), nn.Linear(self.backbone.out_channels, out_channels)
        )
        self.prior_correction: torch.Tensor
        self.register_buffer("prior_correction", torch.zeros(out_channels))

    def set_prior_correction(self, class_weights: torch.Tensor | Sequence[float]) -> Classifier:
        """Store ``log(class_weights)`` (the loss weights used in training); returns ``self``."""
        weights = torch.as_tensor(class_weights, dtype=torch.float32)
        self.prior_correction.copy_(torch.log(weights).to(self.prior_correction))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(B, out_channels)`` for ``x`` of shape ``(B, in_channels, D, H, W)``."""
        logits = self.head(self.backbone(x))
        return logits if self.training else logits - self.prior_correction
