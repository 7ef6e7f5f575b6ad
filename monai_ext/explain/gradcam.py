"""Grad-CAM for 2D/3D networks: per-sample targets, fp32, hooks always removed, maps in the input's grid."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["grad_cam"]

Target = Callable[[torch.Tensor], torch.Tensor] | int | Sequence[int] | torch.Tensor | None


def grad_cam(model: nn.Module, x: torch.Tensor, target_layer: str, target: Target = None) -> torch.Tensor:
    """Gradient-weighted class activation map (Selvaraju et al., ICCV 2017) at the input's resolution.

    The map of sample ``b`` is ``ReLU(sum_k w_k A_k)`` where ``A`` is the output of ``target_layer`` and
    ``w_k`` the spatial mean of ``d score_b / d A_k``; it is upsampled to the input's spatial shape
    (torch linear interpolation) and divided by its maximum, so 1 marks the most important voxel and 0 no
    positive evidence (an all-zero map when nothing raises the score). The model runs in fp32 (autocast off)
    in eval mode, gradients are enabled even under ``torch.no_grad()``, and only the gradient with respect to
    the layer output is computed (``torch.autograd.grad``), so no parameter ``.grad`` is touched. The forward
    hook is removed and the train/eval flags are restored in a ``finally`` block.

    Args:
        model: maps ``(B, C, *spatial)`` to ``(B, K)`` scores (``K = 1`` or ``(B,)``: one scalar per sample, e.g.
            a discriminator's realism logit).
        x: input batch ``(B, C, *spatial)``, 2D or 3D.
        target_layer: name of a module in ``model.named_modules()``, e.g. ``"stages.1"``.
        target: which score to explain: ``None`` (the scalar output, or each sample's arg-max class), an
            ``int`` class for every sample, one class per sample (sequence or ``(B,)`` tensor), or a callable
            ``outputs -> (B,)`` scores.

    Returns:
        Maps ``(B, 1, *spatial)`` float32 in [0, 1], detached, on ``x``'s device.

    Raises:
        KeyError: no module named ``target_layer``.
        ValueError: the target does not fit the outputs, or the layer output is not a tensor.

    Example:
        >>> net = nn.Sequential(nn.Conv3d(1, 2, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten())
        >>> grad_cam(net, torch.rand(2, 1, 8, 8, 8), "0", target=[0, 1]).shape
        torch.Size([2, 1, 8, 8, 8])
    """
    modules = dict(model.named_modules())
    if target_layer not in modules:
        raise KeyError(f"no layer {target_layer!r}; layers: {[n for n in modules if n][:50]}")
    captured: list[torch.Tensor] = []

    def keep_output(_module: nn.Module, _inputs: object, output: object) -> None:
        if not isinstance(output, torch.Tensor):
            raise ValueError(f"layer {target_layer!r} returns {type(output).__name__}, not a tensor")
        captured.append(output)

    training = {name: m.training for name, m in model.named_modules()}
    handle = modules[target_layer].register_forward_hook(keep_output)
    try:
        model.eval()
        with torch.enable_grad(), torch.autocast(device_type=x.device.type, enabled=False):
            inputs = x.detach().float().requires_grad_(True)  # makes the layer output need grad when weights don't
            scores = _select(model(inputs), target)
            if not captured:
                raise ValueError(f"layer {target_layer!r} was not used in the forward pass")
            activation = captured[-1]
            (grads,) = torch.autograd.grad(scores.sum(), activation)
    finally:
        handle.remove()
        for name, module in model.named_modules():
            module.train(training.get(name, module.training))
    return _to_map(activation.detach(), grads.detach(), tuple(x.shape[2:]))


def _select(outputs: torch.Tensor, target: Target) -> torch.Tensor:
    """The ``(B,)`` scores to explain."""
    batch = outputs.shape[0]
    if callable(target) and not isinstance(target, torch.Tensor):
        scores = target(outputs)
    else:
        flat = outputs.reshape(batch, -1).float()
        if target is None:
            index = torch.zeros(batch, dtype=torch.long) if flat.shape[1] == 1 else flat.argmax(1)
        elif isinstance(target, int):
            index = torch.full((batch,), target, dtype=torch.long)
        else:
            index = torch.as_tensor(target, dtype=torch.long).reshape(-1)
        if index.shape[0] != batch or index.min() < 0 or index.max() >= flat.shape[1]:
            raise ValueError(f"target {target!r} does not fit outputs of shape {tuple(outputs.shape)}")
        scores = flat.gather(1, index.to(flat.device)[:, None])[:, 0]
    if scores.shape != (batch,):
        raise ValueError(f"the target must give one score per sample, got shape {tuple(scores.shape)}")
    return scores


def _to_map(activation: torch.Tensor, grads: torch.Tensor, spatial: tuple[int, ...]) -> torch.Tensor:
    """Weight, ReLU, upsample, scale each sample by its maximum."""
    dims = tuple(range(2, activation.ndim))
    weights = grads.float().mean(dim=dims, keepdim=True)
    cam = F.relu((weights * activation.float()).sum(dim=1, keepdim=True))
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[len(spatial)]
    cam = F.interpolate(cam, size=spatial, mode=mode, align_corners=False)
    peak = cam.flatten(1).amax(dim=1).reshape(-1, *([1] * (cam.ndim - 1)))
    return torch.where(peak > 0, cam / peak.clamp_min(torch.finfo(cam.dtype).tiny), torch.zeros_like(cam)).clamp(0, 1)
