"""Faithfulness of a saliency map: the deletion curve and its area (Petsiuk et al., RISE, BMVC 2018)."""

from __future__ import annotations

import torch
from torch import nn

from monai_ext.explain.attribution._common import Target, as_input, evaluating, pin_target, target_scores

__all__ = ["deletion_auc", "deletion_curve"]


def deletion_curve(
    model: nn.Module,
    x: torch.Tensor,
    saliency: torch.Tensor,
    target: Target = None,
    *,
    steps: int = 20,
    baseline: float = 0.0,
    batch_size: int = 8,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Target score as the most important voxels are deleted first.

    At fraction ``f = t / steps`` (``t = 0 .. steps``) the ``round(f * N)`` voxels with the highest saliency
    (``N`` voxels per sample; ties keep voxel order) are set to ``baseline`` in every channel and the target
    score is recorded. The score is the target class's softmax probability for ``K > 1`` outputs, the sigmoid
    of a single output, or a callable's value on the raw outputs; ``None`` explains each sample's arg-max
    class of the intact input. A faithful map makes the score fall fast. The model runs under ``no_grad`` in
    eval mode with autocast off (fp32); train flags are restored.

    Args:
        model: maps ``(B, C, *spatial)`` to ``(B, K)`` or ``(B,)``.
        x: input ``(B, C, H, W)`` or ``(B, C, H, W, D)``.
        saliency: ``(B, 1, *spatial)`` or ``(B, *spatial)`` map, higher = more important.
        target: ``None``, an ``int`` class, one class per sample, or a callable ``outputs -> (B,)`` scores.
        steps: number of deletion steps after the intact input.
        baseline: value given to deleted voxels, in the input's units.
        batch_size: perturbed copies per model call.

    Returns:
        ``(fractions, scores)``: fractions ``(steps + 1,)`` from 0 to 1 and scores ``(B, steps + 1)``, float32
        on the CPU.

    Example:
        >>> net = nn.Sequential(nn.Conv3d(1, 2, 3, padding=1), nn.AdaptiveAvgPool3d(1), nn.Flatten())
        >>> x = torch.rand(2, 1, 8, 8, 8)
        >>> fractions, scores = deletion_curve(net, x, torch.rand(2, 1, 8, 8, 8), steps=4)
        >>> fractions.tolist(), scores.shape
        ([0.0, 0.25, 0.5, 0.75, 1.0], torch.Size([2, 5]))
    """
    order = _order(x, saliency)
    if steps < 1 or batch_size < 1:
        raise ValueError(f"need steps >= 1 and batch_size >= 1, got {steps} and {batch_size}")
    fractions = torch.linspace(0.0, 1.0, steps + 1)
    deleted = (fractions * order.shape[1]).round().long().tolist()
    jobs = [(b, t) for b in range(x.shape[0]) for t in range(steps + 1)]
    with evaluating(model, x.device.type), torch.no_grad():
        inputs = as_input(x)
        scores = torch.zeros(x.shape[0], steps + 1)
        pinned = pin_target(torch.cat([model(chunk) for chunk in inputs.split(batch_size)]), target)
        for first in range(0, len(jobs), batch_size):
            chunk = jobs[first : first + batch_size]
            ids = torch.tensor([b for b, _ in chunk])
            copies = inputs[ids.to(inputs.device)].clone()
            voxels = copies.flatten(2)  # a view of the copies: (n, C, N)
            for n, (b, t) in enumerate(chunk):
                voxels[n][:, order[b, : deleted[t]]] = baseline
            values = target_scores(model(copies), pinned, ids, probability=True).cpu()
            for (b, t), value in zip(chunk, values.tolist(), strict=True):
                scores[b, t] = value
    return fractions, scores


def deletion_auc(
    model: nn.Module,
    x: torch.Tensor,
    saliency: torch.Tensor,
    target: Target = None,
    *,
    steps: int = 20,
    baseline: float = 0.0,
    batch_size: int = 8,
) -> float:
    """Area under the normalised deletion curve, averaged over the batch; lower = more faithful map.

    Each sample's curve of :func:`deletion_curve` is divided by its score on the intact input (so it starts
    at 1) and integrated over the deleted fraction in [0, 1] with the trapezoidal rule. A sample whose intact
    score is 0 contributes 0. Arguments as in :func:`deletion_curve`.

    Returns:
        The mean area over the batch (about 0 for a map whose first voxels carry the whole score, about 1
        for a score that survives deletion).

    Example:
        >>> net = nn.Sequential(nn.Conv3d(1, 2, 3, padding=1), nn.AdaptiveAvgPool3d(1), nn.Flatten())
        >>> isinstance(deletion_auc(net, torch.rand(1, 1, 8, 8, 8), torch.rand(1, 8, 8, 8), steps=4), float)
        True
    """
    fractions, scores = deletion_curve(
        model, x, saliency, target, steps=steps, baseline=baseline, batch_size=batch_size
    )
    start = scores[:, :1]
    normalised = torch.where(start != 0, scores / start.where(start != 0, torch.ones_like(start)), 0.0)
    return float(torch.trapezoid(normalised, fractions, dim=1).mean())


def _order(x: torch.Tensor, saliency: torch.Tensor) -> torch.Tensor:
    """Voxel indices ``(B, N)`` from the most to the least salient, on ``x``'s device."""
    if x.ndim not in (4, 5):
        raise ValueError(f"expected x (B, C, H, W) or (B, C, H, W, D), got {tuple(x.shape)}")
    voxels = x[0, 0].numel()
    if saliency.numel() != x.shape[0] * voxels or saliency.shape[0] != x.shape[0]:
        raise ValueError(f"saliency {tuple(saliency.shape)} does not fit x {tuple(x.shape)}: need (B, 1, *spatial)")
    flat = saliency.detach().float().reshape(x.shape[0], voxels)
    return flat.argsort(dim=1, descending=True, stable=True).to(x.device)
