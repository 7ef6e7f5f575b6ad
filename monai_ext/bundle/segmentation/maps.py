"""A segmentation on the input's grid: the label map (or region masks), probabilities, and per-label volumes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from monai.data import MetaTensor

from monai_ext.bundle.segmentation.labels import SegmentationSpec

__all__ = ["Segmentation", "discretise", "label_statistics", "smallest_unsigned", "to_input_grid"]

Invert = Callable[[torch.Tensor], MetaTensor]  # (C, *network grid) -> (C, *input grid) on the input's affine


@dataclass
class Segmentation:
    """One segmentation output on the input's grid.

    Attributes:
        spec: names, colours and kind.
        mask: ``"labels"``: ``(1, I, J, K)`` integer label map; ``"multilabel"``: ``(C, I, J, K)`` 0/1 masks.
        probabilities: ``(P, I, J, K)`` in [0, 1] (softmax or sigmoid of the network output), or ``None``.
        probability_channels: the label value (channel) of each of the ``P`` maps; empty: map ``i`` is channel ``i``.
        explanation: ``(1, I, J, K)`` in [0, 1]: what drove one segment (see :mod:`.explain`), or ``None``.
        explained: what the explanation explains (label value, name, method, layer).
    """

    spec: SegmentationSpec
    mask: MetaTensor
    probabilities: MetaTensor | None = None
    probability_channels: tuple[int, ...] = ()
    explanation: MetaTensor | None = None
    explained: dict[str, Any] = field(default_factory=dict)

    def probability(self, value: int) -> torch.Tensor | None:
        """The ``(I, J, K)`` probability map of label ``value`` (a channel index), or ``None``."""
        if self.probabilities is None:
            return None
        channels = self.probability_channels or tuple(range(self.probabilities.shape[0]))
        return self.probabilities[channels.index(value)] if value in channels else None


def discretise(pred: torch.Tensor, kind: str) -> torch.Tensor:
    """``(C, *spatial)`` network-style output -> label map ``(1, *spatial)`` int64 or masks ``(C, *spatial)`` uint8.

    ``"labels"``: one channel is rounded (an already discrete map; a bilinear ``Invertd`` may leave fractions at
    edges), several channels (probabilities, logits or one-hot) take the arg-max. ``"multilabel"``: every channel
    above 0.5 (probabilities or 0/1 masks).

    Raises:
        ValueError: ``pred`` is not ``(C, *spatial)`` or has non-finite values.
    """
    if pred.ndim < 2:
        raise ValueError(f"a segmentation output must be (C, *spatial), got shape {tuple(pred.shape)}")
    values = pred.detach().float().cpu()
    if not torch.isfinite(values).all():
        raise ValueError("the segmentation output holds NaN or infinite values")
    if kind == "multilabel":
        return (values > 0.5).to(torch.uint8)
    if values.shape[0] == 1:
        return values.round().clamp_min(0).to(torch.int64)
    return values.argmax(dim=0, keepdim=True)


def to_input_grid(pred: torch.Tensor, *, kind: str, channels: int, on_input_grid: bool, invert: Invert) -> torch.Tensor:
    """The discrete segmentation on the input's grid.

    Args:
        pred: the postprocessed output ``(C, *spatial)``.
        kind: ``"labels"`` or ``"multilabel"``.
        channels: number of labels (incl. background) for the one-hot of a label map.
        on_input_grid: ``pred`` is already there (the bundle's ``Invertd`` did it).
        invert: maps ``(C, *network grid)`` floats to the input's grid (linear interpolation).

    Returns:
        As :func:`discretise`, on the input's grid: a label map is inverted as one-hot channels and its arg-max
        taken (no label values invented between neighbours), masks as fractions thresholded at 0.5.
    """
    discrete = discretise(pred, kind)
    if on_input_grid:
        return discrete
    if kind == "multilabel":
        return discretise(invert(discrete.float()).as_tensor(), kind)
    count = max(channels, int(discrete.max()) + 1)
    onehot = torch.nn.functional.one_hot(discrete[0], count).movedim(-1, 0).float()
    return invert(onehot).as_tensor().argmax(dim=0, keepdim=True)


def smallest_unsigned(max_value: int) -> np.dtype:
    """The smallest unsigned integer dtype that holds ``0..max_value``.

    Example:
        >>> smallest_unsigned(4), smallest_unsigned(300)
        (dtype('uint8'), dtype('uint16'))
    """
    for dtype in (np.uint8, np.uint16, np.uint32):
        if max_value <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    raise ValueError(f"label value {max_value} does not fit 32 bits")


def label_statistics(segmentation: Segmentation) -> list[dict[str, Any]]:
    """Per segment: value, name, colour, voxels and volume (mm^3, from the affine's voxel size).

    Every named segment is listed (0 voxels when absent); unnamed values present in a label map are added.
    """
    mask = segmentation.mask
    voxel_mm3 = float(abs(np.linalg.det(np.asarray(mask.affine, dtype=np.float64)[:3, :3])))
    spec = segmentation.spec
    if spec.kind == "multilabel":
        counts = {c: int(mask[c].sum()) for c in range(mask.shape[0])}
        values = sorted({label.value for label in spec.labels if label.value < mask.shape[0]})
    else:
        present, number = torch.unique(mask.as_tensor(), return_counts=True)
        counts = {int(v): int(n) for v, n in zip(present.tolist(), number.tolist(), strict=True)}
        values = sorted({label.value for label in spec.labels} | {v for v in counts if v != 0})
    rows = []
    for value in values:
        label = spec.label(value)
        voxels = counts.get(value, 0)
        rows.append(
            {
                "value": value,
                "name": label.name,
                "color": list(label.color),
                "voxels": voxels,
                "volume_mm3": round(voxels * voxel_mm3, 3),
            }
        )
    return rows
