"""Activations of a named layer, scaled per channel, and a PNG montage of their mid-slices."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from monai_ext.explain.attribution._common import module_output
from monai_ext.io.atomic import atomic_path

__all__ = ["feature_maps", "save_feature_montage"]


def feature_maps(model: nn.Module, x: torch.Tensor, layer: str, *, size: Sequence[int] | None = None) -> torch.Tensor:
    """The output of ``layer`` for input ``x``, each channel of each sample min-max scaled to [0, 1].

    The model runs once under ``no_grad`` in eval mode with autocast off (fp32); the forward hook is
    removed and the train flags are restored afterwards, even on error. A constant channel becomes 0.

    Args:
        model: any network; ``layer`` must be used in its forward pass.
        x: input ``(B, C, H, W)`` or ``(B, C, H, W, D)``.
        layer: name of a module in ``model.named_modules()``, e.g. ``"stages.1"``.
        size: spatial size to upsample to (bilinear in 2D, trilinear in 3D), e.g. ``x.shape[2:]`` to
            bring the maps into the input's grid; ``None`` keeps the layer's own grid.

    Returns:
        ``(B, C_layer, *spatial)`` float32 in [0, 1], on ``x``'s device.

    Raises:
        KeyError: no module named ``layer`` (the message lists the available names).
        ValueError: the layer was not called or does not return a tensor with spatial axes.

    Example:
        >>> net = nn.Sequential(nn.Conv3d(1, 4, 3, stride=2, padding=1), nn.ReLU())
        >>> feature_maps(net, torch.rand(2, 1, 8, 8, 8), "0", size=(8, 8, 8)).shape
        torch.Size([2, 4, 8, 8, 8])
    """
    modules = dict(model.named_modules())
    if layer not in modules:
        raise KeyError(f"no layer {layer!r}; layers: {[n for n in modules if n]}")
    activation = module_output(model, modules[layer], layer, x)
    if not isinstance(activation, torch.Tensor) or activation.ndim not in (4, 5):
        raise ValueError(f"layer {layer!r} must return a (B, C, *spatial) tensor with 2 or 3 spatial axes")
    maps = activation.detach().float()
    if size is not None:
        maps = F.interpolate(maps, size=tuple(size), mode="bilinear" if maps.ndim == 4 else "trilinear")
    return _channel_min_max(maps)


def _channel_min_max(maps: torch.Tensor) -> torch.Tensor:
    flat = maps.flatten(2)
    low = flat.amin(2).reshape(*maps.shape[:2], *([1] * (maps.ndim - 2)))
    span = flat.amax(2).reshape(low.shape) - low
    scaled = (maps - low) / span.clamp_min(torch.finfo(maps.dtype).tiny)
    return torch.where(span > 0, scaled, torch.zeros_like(maps)).clamp(0.0, 1.0)


def save_feature_montage(
    maps: torch.Tensor | np.ndarray,
    path: str | os.PathLike[str],
    *,
    max_channels: int = 16,
    axis: int = 2,
    cmap: str = "viridis",
) -> Path:
    """Write a PNG grid of the middle slice of each channel (the first ``max_channels`` channels).

    Slices are shown with their first remaining axis horizontal and the second vertical, increasing
    upwards (``origin="lower"``): for RAS-oriented ``(C, I, J, K)`` maps and ``axis=2`` that is an axial
    slice with anterior up (neurological left-right). Colours span the minimum to maximum of the shown
    channels. Written atomically (temporary file beside ``path``, then renamed).

    Args:
        maps: ``(C, D, H, W)`` tensor or array (e.g. one sample of :func:`feature_maps`), or ``(C, H, W)``.
        path: output ``.png``.
        max_channels: at most this many channels are drawn.
        axis: spatial axis (0, 1 or 2 of ``D, H, W``) across which the middle slice is taken (3D only).
        cmap: matplotlib colour map.

    Returns:
        The path written.

    Example:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "features.png"
        >>> save_feature_montage(torch.rand(3, 8, 8, 8), out).exists()
        True
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    array = maps.detach().cpu().float().numpy() if isinstance(maps, torch.Tensor) else np.asarray(maps, float)
    if array.ndim not in (3, 4) or array.shape[0] < 1:
        raise ValueError(f"expected maps (C, D, H, W) or (C, H, W), got {array.shape}")
    if array.ndim == 4:
        if axis not in (0, 1, 2):
            raise ValueError(f"axis must be 0, 1 or 2, got {axis}")
        array = np.take(array, array.shape[axis + 1] // 2, axis=axis + 1)
    shown = array[:max_channels]
    cols = math.ceil(math.sqrt(len(shown)))
    rows = math.ceil(len(shown) / cols)
    fig = Figure(figsize=(2.0 * cols, 2.0 * rows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    low, high = float(np.nanmin(shown)), float(np.nanmax(shown))
    for index, ax in enumerate(axes):
        ax.set_axis_off()
        if index < len(shown):
            ax.imshow(shown[index].T, origin="lower", cmap=cmap, vmin=low, vmax=high, interpolation="nearest")
            ax.set_title(f"channel {index}", fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)
