"""Test-time flip averaging: the network's logits on the input and on its mirror images, averaged.

A mirror flip is exact on the voxel grid (no interpolation), so it adds no resampling error; for an anatomy
that is mirror-symmetric across the body's midline (a left and a right hippocampus, after ``Orientationd`` to
RAS) it is the cheapest test-time augmentation there is, and nnU-Net's default.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

import torch
from monai.inferers import Inferer, SimpleInferer

__all__ = ["FlipAveragingInferer"]


class FlipAveragingInferer(Inferer):
    """Run ``inferer`` on the input and on every combination of flips along ``spatial_axes``; average the outputs.

    With ``spatial_axes=[0]`` that is two passes (the input and its left-right mirror on a RAS grid); with
    ``[0, 1, 2]`` eight. A spatial output (segmentation logits, same number of dimensions as the input) is
    flipped back before averaging, so the result lies on the input's grid; an output without spatial axes
    (a classifier's ``(B, K)`` logits) is averaged as it is.
    The outputs (usually logits) are averaged as they are: an activation applied afterwards (``Activationsd``
    softmax) sees the averaged logits.

    Args:
        inferer: the inferer each pass uses (for example a ``SlidingWindowInferer``); ``SimpleInferer`` when
            ``None``.
        spatial_axes: spatial axes to mirror (0 = the first axis after batch and channel), each at most once;
            empty: one pass, no flip.

    Raises:
        ValueError: a repeated or negative axis.
    """

    def __init__(self, *, inferer: Inferer | None = None, spatial_axes: Sequence[int] = (0,)) -> None:
        super().__init__()
        axes = [int(a) for a in spatial_axes]
        if len(set(axes)) != len(axes) or any(a < 0 for a in axes):
            raise ValueError(f"spatial_axes must be distinct non-negative axes, got {list(spatial_axes)}")
        self.inferer = inferer if inferer is not None else SimpleInferer()
        self.spatial_axes = tuple(axes)

    def flips(self) -> list[tuple[int, ...]]:
        """Every subset of ``spatial_axes`` (the empty one first): the mirror images averaged."""
        return [c for n in range(len(self.spatial_axes) + 1) for c in combinations(self.spatial_axes, n)]

    def __call__(self, inputs: torch.Tensor, network: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Averaged output.

        Args:
            inputs: ``(B, C, *spatial)``.
            network: the callable the inner inferer runs.

        Returns:
            ``(B, C_out, *spatial_out)``: the mean of the passes, each flipped back; or ``(B, K)`` averaged.

        Raises:
            ValueError: an axis beyond the input's spatial dimensions.
        """
        spatial = inputs.ndim - 2
        if any(a >= spatial for a in self.spatial_axes):
            raise ValueError(f"spatial_axes {list(self.spatial_axes)} exceed the input's {spatial} spatial axes")
        total: torch.Tensor | None = None
        flips = self.flips()
        for axes in flips:
            dims = [2 + a for a in axes]
            x = torch.flip(inputs, dims) if dims else inputs
            out = self.inferer(x, network, *args, **kwargs)
            out = torch.flip(out, dims) if dims and out.ndim == inputs.ndim else out  # (B, K) logits: nothing to undo
            total = out if total is None else total + out
        assert total is not None
        return total / len(flips)
