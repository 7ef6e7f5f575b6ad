"""Grad-CAM and Grad-CAM++ for 2D/3D networks: per-sample targets, fp32, only the layers after the target layer
recorded for backprop, hooks always removed, maps in the input's grid."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from monai_ext.explain.attribution._common import Target, _select, as_input, evaluating, module_output, unit_max_
from monai_ext.explain.attribution.layers import default_target_layer
from monai_ext.explain.attribution.upsample import upsample_map

# default_target_layer (layers.py), upsample_map (upsample.py), Target and _select (_common.py) are re-exported
__all__ = ["MIN_EVIDENCE", "default_target_layer", "grad_cam", "grad_cam_pp", "layer_output", "upsample_map"]

MIN_EVIDENCE = 1e-3
"""A map's positive part below this share of its largest absolute value counts as no evidence (an all-zero map).

Measured on the adrenal classifier's 98 val glands with the empty baseline: four glands whose hyperplasia score
nothing raises peak at 4.7e-4 to 5.4e-4 of their negative evidence; the next gland at 1.4e-2."""


def grad_cam(
    model: nn.Module,
    x: torch.Tensor,
    target_layer: str | None = None,
    target: Target = None,
    *,
    baseline: torch.Tensor | None = None,
) -> torch.Tensor:
    """Gradient-weighted class activation map (Selvaraju et al., ICCV 2017) at the input's resolution.

    The map of sample ``b`` is ``ReLU(sum_k w_k A_k)`` where ``A`` is the output of ``target_layer`` and
    ``w_k`` the spatial mean of ``d score_b / d A_k``; it is upsampled to the input's spatial shape
    (:func:`upsample_map`, linear) and divided by its maximum, so 1 marks the most important voxel and 0 no
    positive evidence. A map whose positive part stays below :data:`MIN_EVIDENCE` of its largest absolute value
    is all zero: nothing raises the score, and negligible evidence is not stretched to 1.

    With a ``baseline`` input, ``A`` is replaced by ``A - A(baseline)``: the evidence relative to that input.
    For a shape mask on an empty background the baseline is an empty volume (zeros): wherever the receptive
    field sees only background the two activations are equal and the map is exactly 0, so a constant background
    term (which plain Grad-CAM spreads over the whole volume whenever its weighted sum is positive) cannot
    outshine the shape. The forward runs without autograd up to
    the target layer, whose output becomes the leaf of a graph holding only the rest of the network; the model
    runs in fp32 (autocast off) in eval mode, also under ``torch.no_grad()`` or ``torch.inference_mode()``. No
    parameter ``.grad`` is touched, the hook is removed and the train/eval flags are restored in ``finally``.

    Args:
        model: maps ``(B, C, *spatial)`` to ``(B, K)`` scores (``K = 1`` or ``(B,)``: one scalar per sample, e.g.
            a discriminator's realism logit).
        x: input batch ``(B, C, *spatial)``, 1D to 3D.
        target_layer: name of a module in ``model.named_modules()`` whose output is ``(B, C', *spatial')``, e.g.
            ``"stages.1"``; ``None`` picks :func:`default_target_layer` (costs one more forward pass).
        target: which score to explain: ``None`` (the scalar output, or each sample's arg-max class), an
            ``int`` class for every sample, one class per sample (sequence or ``(B,)`` tensor), or a callable
            ``outputs -> (B,)`` scores.
        baseline: a reference input ``(1 or B, C, *spatial)`` of ``x``'s shape (one forward pass more, without
            autograd), or ``None`` for plain Grad-CAM.

    Returns:
        Maps ``(B, 1, *spatial)`` float32 in [0, 1], detached, on ``x``'s device.

    Raises:
        KeyError: no module named ``target_layer``.
        ValueError: the target does not fit the outputs, the layer output is not a ``(B, C', *spatial')``
            tensor that the scores depend on, or the baseline's shape does not fit ``x``.

    Example:
        >>> net = nn.Sequential(nn.Conv3d(1, 2, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten())
        >>> grad_cam(net, torch.rand(2, 1, 8, 8, 8), "0", target=[0, 1]).shape
        torch.Size([2, 1, 8, 8, 8])
    """
    activation, grads = _relative_gradients(model, x, target_layer, target, baseline)
    weights = grads.mean(dim=tuple(range(2, grads.ndim)), keepdim=True)
    return _to_map(activation, weights, tuple(x.shape[2:]))


def grad_cam_pp(
    model: nn.Module,
    x: torch.Tensor,
    target_layer: str | None = None,
    target: Target = None,
    *,
    baseline: torch.Tensor | None = None,
) -> torch.Tensor:
    """Grad-CAM++ (Chattopadhyay et al., WACV 2018): Grad-CAM with pixel-wise weights of the positive gradients.

    With ``g = d score_b / d A`` the channel weights are ``w_k = sum_ij alpha_kij ReLU(g_kij)`` with the
    closed form ``alpha = g^2 / (2 g^2 + sum_ab(A_kab g_kab^3))`` as in MONAI's ``GradCAMpp`` (the paper's
    Eq. 19 writes ``sum_ab(A_kab) g_kij^3``: the same whenever ``g`` is constant over space, as for a layer
    followed by global pooling and linear layers). Only an exactly zero denominator is replaced (MONAI adds
    1e-7, which outweighs ``g^2`` and changes the map when gradients are below ~1e-4). The paper's
    ``exp(score)`` factor is a positive per-sample constant that the normalisation removes, so it is left out
    (it overflows above ~88). Same contract, arguments and speed as :func:`grad_cam`; a ``baseline``
    replaces ``A`` by ``A - A(baseline)`` in the weights and the map alike.

    Args:
        model: maps ``(B, C, *spatial)`` to ``(B, K)`` or ``(B,)`` scores.
        x: input batch ``(B, C, *spatial)``.
        target_layer: module name, or ``None`` for :func:`default_target_layer`.
        target: score to explain, as in :func:`grad_cam`.
        baseline: reference input, as in :func:`grad_cam`.

    Returns:
        Maps ``(B, 1, *spatial)`` float32 in [0, 1], detached, on ``x``'s device.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten())
        >>> grad_cam_pp(net, torch.rand(2, 1, 8, 8), "1").shape
        torch.Size([2, 1, 8, 8])
    """
    activation, grads = _relative_gradients(model, x, target_layer, target, baseline)
    dims = tuple(range(2, grads.ndim))
    squared = grads.square()
    denominator = 2 * squared + (activation * squared * grads).sum(dim=dims, keepdim=True)
    alpha = squared / torch.where(denominator != 0, denominator, torch.ones_like(denominator))
    weights = (alpha * F.relu(grads)).sum(dim=dims, keepdim=True)
    return _to_map(activation, weights, tuple(x.shape[2:]))


def _relative_gradients(
    model: nn.Module, x: torch.Tensor, target_layer: str | None, target: Target, baseline: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_layer_gradients`, with ``A - A(baseline)`` for ``A`` when there is a baseline.

    The baseline runs first, so a wrapper that keeps the last output (the runner's recorder) keeps ``x``'s.
    """
    name = default_target_layer(model, x) if target_layer is None else target_layer
    reference = None
    if baseline is not None:
        if baseline.ndim != x.ndim or baseline.shape[0] not in (1, x.shape[0]) or baseline.shape[1:] != x.shape[1:]:
            raise ValueError(f"the baseline {tuple(baseline.shape)} does not fit the input {tuple(x.shape)}")
        reference = layer_output(model, baseline.to(x.device, x.dtype), name)
    activation, grads = _layer_gradients(model, x, name, target)
    return (activation if reference is None else activation - reference), grads


def _module(model: nn.Module, name: str) -> nn.Module:
    """The module called ``name`` in ``model``."""
    modules = dict(model.named_modules())
    if name not in modules:
        raise KeyError(f"no layer {name!r}; layers: {[n for n in modules if n][:50]}")
    return modules[name]


def _layer_gradients(model: nn.Module, x: torch.Tensor, name: str, target: Target) -> tuple[torch.Tensor, torch.Tensor]:
    """The output ``A`` of layer ``name`` and ``d scores.sum() / d A``, both ``(B, C', *spatial')`` float32."""
    module = _module(model, name)
    leaves: list[torch.Tensor] = []

    def start_graph(_module: nn.Module, _inputs: object, output: object) -> torch.Tensor:
        if not isinstance(output, torch.Tensor) or output.ndim < 3:
            raise ValueError(f"layer {name!r} must return a (B, C, *spatial) tensor, got {type(output).__name__}")
        torch.set_grad_enabled(True)  # record from here on: only the layers after this one
        leaves.append(output.detach().requires_grad_(True))
        return leaves[-1].clone()  # the next layers may work in place (ReLU(inplace=True)); the leaf stays as is

    handle = module.register_forward_hook(start_graph)
    grad_mode = torch.is_grad_enabled()
    try:
        with evaluating(model, x.device.type), torch.no_grad():
            scores = _select(model(as_input(x)), target)
            if not leaves:
                raise ValueError(f"layer {name!r} was not used in the forward pass")
            grads = _gradient(scores, leaves[-1])
            if grads is None:
                raise ValueError(f"the scores do not depend on the output of layer {name!r}")
    finally:
        handle.remove()
        torch.set_grad_enabled(grad_mode)
    return leaves[-1].detach().float(), grads.float()


def layer_output(model: nn.Module, x: torch.Tensor, name: str) -> torch.Tensor:
    """The output of layer ``name`` for ``x``, float32, in eval mode and without autograd (hooks removed).

    Raises:
        KeyError: no module named ``name``.
        ValueError: the layer was not used, or did not return a tensor.
    """
    output = module_output(model, _module(model, name), name, x)
    if not isinstance(output, torch.Tensor):
        raise ValueError(f"layer {name!r} must return a (B, C, *spatial) tensor, got {type(output).__name__}")
    return output.detach().float()


def _gradient(scores: torch.Tensor, leaf: torch.Tensor) -> torch.Tensor | None:
    """``d scores.sum() / d leaf`` (no parameter ``.grad`` touched), or ``None`` if the scores do not depend on it."""
    if not scores.requires_grad:
        return None
    return torch.autograd.grad(scores.sum(), leaf, allow_unused=True)[0]


def _to_map(activation: torch.Tensor, weights: torch.Tensor, spatial: tuple[int, ...]) -> torch.Tensor:
    """``ReLU(sum_k w_k A_k)`` upsampled to ``spatial``, each sample divided by its maximum (in place).

    A sample whose positive maximum is below :data:`MIN_EVIDENCE` of its largest absolute value is zeroed.
    """
    cam = (weights * activation).sum(dim=1, keepdim=True)
    dims = tuple(range(1, cam.ndim))
    weak = cam.amax(dim=dims, keepdim=True) <= MIN_EVIDENCE * cam.abs().amax(dim=dims, keepdim=True)
    return unit_max_(upsample_map(F.relu(cam.masked_fill(weak, 0.0)), spatial))
