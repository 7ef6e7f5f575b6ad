"""Turn a segmentation network's output into a :class:`Segmentation` on the input's grid."""

from __future__ import annotations

import numpy as np
import torch
from monai.data import MetaTensor

from monai_ext.bundle.segmentation.labels import SegmentationSpec
from monai_ext.bundle.segmentation.maps import Invert, Segmentation, to_input_grid

__all__ = ["build_segmentation", "probabilities"]

AFFINE_TOLERANCE_MM = 1e-3


def probabilities(logits: torch.Tensor, kind: str) -> torch.Tensor:
    """``(K, *spatial)`` logits -> probabilities: sigmoid per region (``"multilabel"`` or one channel), else softmax."""
    values = logits.detach().float()
    if kind == "multilabel" or values.shape[0] == 1:
        return torch.sigmoid(values)
    return torch.softmax(values, dim=0)


def build_segmentation(
    spec: SegmentationSpec,
    *,
    logits: torch.Tensor,
    pred: torch.Tensor,
    on_input_grid: bool,
    invert: Invert,
    image: MetaTensor,
) -> Segmentation:
    """The segmentation of one output, on the grid and affine of ``image``.

    Args:
        spec: the output's labels and kind.
        logits: the network's raw output ``(K, *network grid)`` (for the probability maps).
        pred: the postprocessed output (the bundle's own ``postprocessing``, writers skipped).
        on_input_grid: ``pred`` came back through the bundle's ``Invertd``.
        invert: ``(C, *network grid)`` -> ``(C, *input grid)`` by the inverse of the preprocessing.
        image: the input as loaded ``(C, I, J, K)``.

    Only the listed segments get a probability map (the background's is never inverted nor written).

    Raises:
        ValueError: the output does not come back on the input's grid (shape or affine), or is not finite.
    """
    shape = tuple(image.shape[1:])
    affine = torch.as_tensor(image.affine, dtype=torch.float64)
    channels = spec.channels or int(logits.shape[0])
    mask = to_input_grid(pred, kind=spec.kind, channels=channels, on_input_grid=on_input_grid, invert=invert)
    _check_grid(mask, pred if on_input_grid else None, shape, affine)
    segmentation = Segmentation(spec=spec, mask=MetaTensor(mask, affine=affine.clone()))
    listed = sorted(label.value for label in spec.labels if label.value < logits.shape[0])  # no background map
    if listed:
        probs = invert(probabilities(logits, spec.kind)[listed].cpu())
        _check_grid(probs, probs, shape, affine)
        segmentation.probabilities = MetaTensor(probs.as_tensor().float().clamp(0.0, 1.0), affine=affine.clone())
        segmentation.probability_channels = tuple(listed)
    return segmentation


def _check_grid(
    values: torch.Tensor, source: torch.Tensor | None, shape: tuple[int, ...], affine: torch.Tensor
) -> None:
    if tuple(values.shape[1:]) != shape:
        raise ValueError(f"the segmentation comes back with shape {tuple(values.shape[1:])}, the input is {shape}")
    if isinstance(source, MetaTensor):
        error = float(np.abs(np.asarray(source.affine, dtype=np.float64) - affine.numpy()).max())
        if error > AFFINE_TOLERANCE_MM:
            raise ValueError(f"the segmentation comes back on another affine (off by {error:.3g} mm)")
