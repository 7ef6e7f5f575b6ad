"""Gradient saliency: the vanilla input gradient and SmoothGrad, as maps in [0, 1] in the input's grid."""

from __future__ import annotations

import torch
from torch import nn

from monai_ext.explain.attribution._common import (
    Target,
    _select,
    as_input,
    evaluating,
    pin_target,
    target_scores,
    unit_max,
)

__all__ = ["smooth_grad", "vanilla_gradient"]


def vanilla_gradient(model: nn.Module, x: torch.Tensor, target: Target = None) -> torch.Tensor:
    """Input-gradient saliency (Simonyan et al., 2014): ``max_c |d score / d x_c|``, scaled to [0, 1].

    The score is the raw model output of the target (a logit, not a probability), so a linear model's map
    is ``|weights|`` divided by its maximum. The model runs in fp32 (autocast off) in eval mode with
    gradients enabled even under ``torch.no_grad()``; only the gradient with respect to the input is
    computed (``torch.autograd.grad``), so no parameter ``.grad`` is touched, and train flags are restored.

    Args:
        model: maps ``(B, C, *spatial)`` to ``(B, K)`` or ``(B,)``.
        x: input ``(B, C, H, W)`` or ``(B, C, H, W, D)``.
        target: ``None`` (the scalar output, or each sample's arg-max class), an ``int`` class, one class per
            sample (sequence or ``(B,)`` tensor), or a callable ``outputs -> (B,)`` scores.

    Returns:
        Maps ``(B, 1, *spatial)`` float32 in [0, 1] (1 = most important), detached, on ``x``'s device.

    Example:
        >>> net = nn.Sequential(nn.Conv3d(1, 2, 3, padding=1), nn.AdaptiveAvgPool3d(1), nn.Flatten())
        >>> vanilla_gradient(net, torch.rand(2, 1, 8, 8, 8), target=[0, 1]).shape
        torch.Size([2, 1, 8, 8, 8])
    """
    with evaluating(model, x.device.type), torch.enable_grad():
        inputs = as_input(x).requires_grad_(True)
        scores = _select(model(inputs), target)
        (grads,) = torch.autograd.grad(scores.sum(), inputs)
    return unit_max(grads.detach().abs().amax(dim=1, keepdim=True))


def smooth_grad(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    *,
    samples: int = 16,
    noise: float = 0.15,
    seed: int = 0,
    batch_size: int = 8,
) -> torch.Tensor:
    """SmoothGrad (Smilkov et al., 2017): the input gradient averaged over noisy copies of the input.

    Each sample gets ``samples`` copies ``x + N(0, sigma^2)`` with ``sigma = noise * (max(x_b) - min(x_b))``
    (its own value range); the raw gradients of the target score are averaged, then ``max_c |mean|`` is
    scaled to [0, 1] as in :func:`vanilla_gradient`. ``None`` explains each sample's arg-max class of the
    noise-free input, for every copy. The noise comes from a local ``torch.Generator`` seeded with ``seed``
    and drawn copy by copy, so the map depends on ``seed`` but not on ``batch_size`` or the global RNG.

    Args:
        model: maps ``(B, C, *spatial)`` to ``(B, K)`` or ``(B,)``.
        x: input ``(B, C, H, W)`` or ``(B, C, H, W, D)``.
        target: as in :func:`vanilla_gradient`.
        samples: noisy copies per sample.
        noise: noise standard deviation as a fraction of each sample's value range (0 = vanilla gradient).
        seed: seed of the local generator.
        batch_size: noisy copies per forward/backward pass.

    Returns:
        Maps ``(B, 1, *spatial)`` float32 in [0, 1], detached, on ``x``'s device.

    Example:
        >>> net = nn.Sequential(nn.Conv3d(1, 2, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten())
        >>> x = torch.rand(1, 1, 8, 8, 8)
        >>> torch.equal(smooth_grad(net, x, samples=4), smooth_grad(net, x, samples=4))
        True
    """
    if samples < 1 or batch_size < 1 or noise < 0:
        raise ValueError(f"need samples >= 1, batch_size >= 1, noise >= 0; got {samples}, {batch_size}, {noise}")
    generator = torch.Generator().manual_seed(seed)
    jobs = torch.arange(x.shape[0]).repeat_interleave(samples)
    with evaluating(model, x.device.type):
        inputs = as_input(x)
        flat = inputs.flatten(1)
        sigma = (noise * (flat.amax(1) - flat.amin(1))).reshape(-1, *([1] * (inputs.ndim - 1)))
        total = torch.zeros_like(inputs)
        with torch.no_grad():
            pinned = pin_target(torch.cat([model(chunk) for chunk in inputs.split(batch_size)]), target)
        for ids in jobs.split(batch_size):
            draws = torch.stack([torch.randn(inputs.shape[1:], generator=generator) for _ in ids])
            device_ids = ids.to(inputs.device)
            with torch.enable_grad():
                noisy = (inputs[device_ids] + draws.to(inputs.device) * sigma[device_ids]).requires_grad_(True)
                scores = target_scores(model(noisy), pinned, ids, probability=False)
                (grads,) = torch.autograd.grad(scores.sum(), noisy)
            total.index_add_(0, device_ids, grads.detach())
    return unit_max((total / samples).abs().amax(dim=1, keepdim=True))
