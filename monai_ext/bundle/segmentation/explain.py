"""Explain one segment: Grad-CAM of the summed logit over the predicted region (Vinogradova et al., 2020).

The score is ``sum_{v in R} y_c(v)``: the class ``c`` logit summed over the voxels ``R`` the network assigns to
``c``. Its Grad-CAM map at a layer of reduced resolution shows which parts of the image raised the evidence for
the whole predicted region. For a sliding-window bundle the pass runs on one window (the inferer's ``roi_size``)
centred on the region, so memory stays that of one window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from monai_ext.explain.attribution._common import as_input, evaluating
from monai_ext.explain.attribution.gradcam import grad_cam

__all__ = ["region_grad_cam", "region_target_layer", "region_window"]


def region_target_layer(network: nn.Module, x: torch.Tensor, *, reduction: int = 4) -> str:
    """The last layer (in forward order) whose output map is at most ``1/reduction`` of the input per axis.

    For an encoder-decoder (UNet, SegResNet) that is a decoder stage at a quarter of the resolution: coarse
    enough to summarise context, fine enough to follow the organ. Falls back to the coarsest map.

    Args:
        network: maps ``(1, C, *spatial)`` to ``(1, K, *spatial)``.
        x: the input the map is computed for.

    Raises:
        ValueError: no layer returns a ``(1, C', *spatial')`` map.
    """
    found: list[tuple[int, str]] = []  # (spatial voxels, name) in forward order

    def record(name: str) -> Callable[[nn.Module, object, object], None]:
        def hook(_module: nn.Module, _inputs: object, output: object) -> None:
            if not isinstance(output, torch.Tensor) or output.ndim != x.ndim or not output.is_floating_point():
                return
            if all(s > 1 for s in output.shape[2:]):
                found.append((int(output[0, 0].numel()), name))

        return hook

    handles = [m.register_forward_hook(record(n)) for n, m in network.named_modules() if n]
    try:
        with evaluating(network, x.device.type), torch.no_grad():
            network(as_input(x))
    finally:
        for handle in handles:
            handle.remove()
    if not found:
        raise ValueError(f"no layer returns a spatial map for input {tuple(x.shape)}")
    limit = x[0, 0].numel() / reduction ** (x.ndim - 2)
    coarse = [name for size, name in found if size <= limit]
    return coarse[-1] if coarse else min(found)[1]


def region_window(mask: torch.Tensor, roi: Sequence[int] | None) -> tuple[slice, ...]:
    """The window of size ``roi`` (clipped to the volume) centred on the region ``mask`` ``(*spatial)``.

    ``roi=None`` (a bundle that runs the whole volume at once) gives the whole volume.
    """
    shape = tuple(mask.shape)
    if roi is None:
        return tuple(slice(0, s) for s in shape)
    points = mask.nonzero()
    centre = points.float().mean(0).round().long().tolist() if len(points) else [s // 2 for s in shape]
    window = []
    for c, size, extent in zip(centre, roi, shape, strict=True):
        size = min(int(size), extent)
        start = min(max(c - size // 2, 0), extent - size)
        window.append(slice(start, start + size))
    return tuple(window)


def region_grad_cam(
    network: nn.Module,
    x: torch.Tensor,
    logits: torch.Tensor,
    *,
    channel: int,
    kind: str,
    roi: Sequence[int] | None,
    target_layer: str | None = None,
) -> tuple[torch.Tensor, dict[str, Any]]:
    """Grad-CAM of the channel-``channel`` logit summed over its predicted region.

    Args:
        network: the segmentation network, ``(1, C, *spatial)`` -> ``(1, K, *spatial)`` logits.
        x: the network input ``(1, C, *spatial)`` (the preprocessed volume).
        logits: the network output on ``x`` ``(K, *spatial)`` (from the inferer), defining the region:
            arg-max ``== channel`` (``"labels"``) or logit ``> 0`` (``"multilabel"``, i.e. sigmoid > 0.5).
        channel: the class or region to explain.
        kind: ``"labels"`` or ``"multilabel"``.
        roi: the sliding window size, or ``None`` for the whole volume.
        target_layer: default :func:`region_target_layer`.

    Returns:
        The map ``(1, *spatial)`` on ``x``'s grid in [0, 1] (zero outside the window), and what was explained
        (``layer``, ``window``, ``region_voxels``; an empty region explains the logit summed over the window).
    """
    region = logits[channel] > 0 if kind == "multilabel" else logits.argmax(0) == channel
    window = region_window(region, roi)
    sizes = [s.stop - s.start for s in window]
    pad = [0] * (2 * len(sizes)) if roi is None else _padding(sizes, roi)  # as the inferer pads a small volume
    crop = F.pad(x[(slice(None), slice(None), *window)], pad)
    mask = F.pad(region[window].to(crop.device, torch.float32), pad)
    empty = not bool(mask.any())
    weights = F.pad(torch.ones(sizes, device=crop.device), pad) if empty else mask
    layer = target_layer or region_target_layer(network, crop)

    def score(outputs: torch.Tensor) -> torch.Tensor:
        return (outputs[:, channel].float() * weights).flatten(1).sum(1)

    cam = grad_cam(network, crop, layer, target=score)[0, 0].cpu()
    full = torch.zeros(x.shape[2:], dtype=torch.float32)
    full[window] = cam[tuple(slice(0, n) for n in sizes)]
    info = {
        "layer": layer,
        "window": [[s.start, s.stop] for s in window],
        "region_voxels": int(region.sum()),
        "score": "summed logit over the window (empty region)" if empty else "summed logit over the region",
    }
    return full[None], info


def _padding(sizes: Sequence[int], roi: Sequence[int]) -> list[int]:
    """``F.pad`` amounts (last axis first) that grow a crop of ``sizes`` to ``roi`` at its far ends."""
    pad: list[int] = []
    for size, target in zip(reversed(list(sizes)), reversed(list(roi)), strict=True):
        pad += [0, max(int(target) - size, 0)]
    return pad
