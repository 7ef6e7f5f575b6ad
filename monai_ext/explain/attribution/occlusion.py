"""Occlusion sensitivity for 2D/3D models: a plan of the forward passes first, then batched occluded copies."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from monai_ext.explain.attribution._common import Target, as_input, evaluating, pin_target, target_scores, unit_max

__all__ = ["OcclusionPlan", "occlusion_sensitivity", "plan_occlusion"]


@dataclass(frozen=True)
class OcclusionPlan:
    """Where the patches go and how many forward passes they cost.

    Attributes:
        samples: batch size ``B`` of the input.
        spatial: spatial shape of the input, e.g. ``(H, W, D)``.
        patch: patch size per spatial axis (voxels), clipped to the input.
        stride: step between patch starts per spatial axis (voxels).
        starts: patch start voxels per spatial axis; the last patch of an axis ends at its last voxel.
    """

    samples: int
    spatial: tuple[int, ...]
    patch: tuple[int, ...]
    stride: tuple[int, ...]
    starts: tuple[tuple[int, ...], ...]

    @property
    def grid(self) -> tuple[int, ...]:
        """Number of patch positions along each spatial axis."""
        return tuple(len(s) for s in self.starts)

    @property
    def patches(self) -> int:
        """Occluded copies per sample."""
        return math.prod(self.grid)

    @property
    def copies(self) -> int:
        """Occluded copies of the whole batch (one forward pass of one sample each)."""
        return self.samples * self.patches

    @property
    def forward_passes(self) -> int:
        """Single-sample forward passes: every occluded copy plus the unoccluded reference of each sample."""
        return self.copies + self.samples

    def batches(self, batch_size: int) -> int:
        """Model calls with at most ``batch_size`` samples each (references and occluded copies)."""
        return math.ceil(self.copies / batch_size) + math.ceil(self.samples / batch_size)

    def regions(self) -> Iterator[tuple[slice, ...]]:
        """The spatial slices of the patches, in the order of the occluded copies."""
        for corner in itertools.product(*self.starts):
            yield tuple(slice(c, c + p) for c, p in zip(corner, self.patch, strict=True))


def plan_occlusion(x_shape: Sequence[int], *, patch: int | Sequence[int], stride: int | Sequence[int]) -> OcclusionPlan:
    """Lay out the occlusion patches of an input of shape ``x_shape`` ``(B, C, *spatial)``.

    Args:
        x_shape: input shape ``(B, C, H, W)`` or ``(B, C, H, W, D)``.
        patch: patch edge in voxels, one for all axes or one per spatial axis; clipped to the input.
        stride: step between patches in voxels (``stride > patch`` leaves voxels that are never occluded).

    Returns:
        The plan; ``plan.forward_passes`` and ``plan.batches(batch_size)`` give the cost up front.

    Example:
        >>> plan = plan_occlusion((2, 1, 16, 16, 16), patch=8, stride=4)
        >>> plan.grid, plan.patches, plan.forward_passes, plan.batches(16)
        ((3, 3, 3), 27, 56, 5)
    """
    if len(x_shape) < 3:
        raise ValueError(f"expected (B, C, *spatial), got {tuple(x_shape)}")
    spatial = tuple(int(n) for n in x_shape[2:])
    sizes = _per_axis(patch, len(spatial), "patch")
    steps = _per_axis(stride, len(spatial), "stride")
    sizes = tuple(min(p, n) for p, n in zip(sizes, spatial, strict=True))
    starts = tuple(_starts(n, p, s) for n, p, s in zip(spatial, sizes, steps, strict=True))
    return OcclusionPlan(samples=int(x_shape[0]), spatial=spatial, patch=sizes, stride=steps, starts=starts)


def occlusion_sensitivity(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    *,
    patch: int | Sequence[int] = 8,
    stride: int | Sequence[int] | None = None,
    baseline: float = 0.0,
    batch_size: int = 16,
    on_plan: Callable[[OcclusionPlan, float], None] | None = None,
) -> torch.Tensor:
    """Occlusion sensitivity (Zeiler & Fergus, ECCV 2014): how much hiding each region lowers the score.

    Each patch of :func:`plan_occlusion` is set to ``baseline`` (all channels) in a copy of the input; the
    drop of the target score from the unoccluded input is credited to the patch's voxels, and a voxel's
    importance is the mean drop over the patches covering it. Negative means (occlusion raised the score)
    become 0 and each sample is divided by its maximum. The score is the target class's softmax probability
    for ``K > 1`` outputs and the sigmoid of a single output (never guessed from the input channels); a
    callable target gets the raw outputs. ``None`` explains each sample's arg-max class of the *unoccluded*
    input. The first batch of copies is timed, then ``on_plan(plan, estimated_seconds)`` is called once
    (estimated seconds of the whole call), then the rest runs. The model runs under ``no_grad`` in eval mode
    with autocast off (fp32); train flags are restored afterwards.

    Args:
        model: maps ``(B, C, *spatial)`` to ``(B, K)`` or ``(B,)``.
        x: input ``(B, C, H, W)`` or ``(B, C, H, W, D)``; ``B = 1`` for a single sample.
        target: ``None``, an ``int`` class, one class per sample, or a callable ``outputs -> (B,)`` scores.
        patch: patch edge in voxels (one or per spatial axis).
        stride: step between patches; ``None`` = ``patch`` (no overlap).
        baseline: value of the occluded voxels, in the input's units.
        batch_size: occluded copies per model call.
        on_plan: called once with the plan and the estimated run time in seconds.

    Returns:
        Maps ``(B, 1, *spatial)`` float32 in [0, 1] (1 = most important), on ``x``'s device.

    Example:
        >>> net = nn.Sequential(nn.Conv3d(1, 2, 3, padding=1), nn.AdaptiveAvgPool3d(1), nn.Flatten())
        >>> occlusion_sensitivity(net, torch.rand(1, 1, 8, 8, 8), patch=4).shape
        torch.Size([1, 1, 8, 8, 8])
    """
    if x.ndim not in (4, 5):
        raise ValueError(f"expected x (B, C, H, W) or (B, C, H, W, D), got {tuple(x.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    plan = plan_occlusion(tuple(x.shape), patch=patch, stride=patch if stride is None else stride)
    samples = torch.arange(x.shape[0])
    with evaluating(model, x.device.type), torch.no_grad():
        inputs = as_input(x)
        reference = torch.cat([model(chunk) for chunk in inputs.split(batch_size)])
        pinned = pin_target(reference, target)
        ref_scores = target_scores(reference, pinned, samples, probability=True).cpu()
        sums = _occluded_drops(model, inputs, plan, pinned, ref_scores, baseline, batch_size, on_plan)
    counts = torch.zeros(plan.spatial)
    for region in plan.regions():
        counts[region] += 1
    mean = torch.where(counts > 0, sums / counts.clamp_min(1), torch.zeros_like(sums))
    return unit_max(mean).to(x.device)


def _occluded_drops(
    model: nn.Module,
    inputs: torch.Tensor,
    plan: OcclusionPlan,
    pinned: Target,
    ref_scores: torch.Tensor,
    baseline: float,
    batch_size: int,
    on_plan: Callable[[OcclusionPlan, float], None] | None,
) -> torch.Tensor:
    """Sum of score drops over the patches covering each voxel, ``(B, 1, *spatial)`` on the CPU."""
    regions = list(plan.regions())
    jobs = [(b, r) for b in range(plan.samples) for r in range(len(regions))]
    sums = torch.zeros(plan.samples, 1, *plan.spatial)
    for first in range(0, len(jobs), batch_size):
        started = time.perf_counter()
        chunk = jobs[first : first + batch_size]
        ids = torch.tensor([b for b, _ in chunk])
        copies = inputs[ids.to(inputs.device)].clone()
        for n, (_, r) in enumerate(chunk):
            copies[n][(slice(None), *regions[r])] = baseline
        drops = (ref_scores[ids] - target_scores(model(copies), pinned, ids, probability=True).cpu()).tolist()
        for (b, r), drop in zip(chunk, drops, strict=True):
            sums[b, 0][regions[r]] += drop
        if first == 0 and on_plan is not None:
            on_plan(plan, max(time.perf_counter() - started, 1e-9) * plan.batches(batch_size))
    return sums


def _per_axis(value: int | Sequence[int], ndim: int, name: str) -> tuple[int, ...]:
    values = (int(value),) * ndim if isinstance(value, int) else tuple(int(v) for v in value)
    if len(values) != ndim or min(values) < 1:
        raise ValueError(f"{name} must be a positive int or {ndim} positive ints, got {value!r}")
    return values


def _starts(size: int, patch: int, stride: int) -> tuple[int, ...]:
    """Patch starts along one axis; a last patch flush with the end covers what the stride leaves over."""
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] + patch < size:
        starts.append(size - patch)
    return tuple(starts)
