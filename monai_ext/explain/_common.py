"""Helpers shared by the perturbation and gradient explainers: model state, pinned targets, scores, scaling."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from monai_ext.explain.gradcam import Target, _select

__all__ = ["as_input", "evaluating", "pin_target", "target_scores", "to_probability", "unit_max"]


@contextlib.contextmanager
def evaluating(model: nn.Module, device_type: str) -> Iterator[None]:
    """Run ``model`` in eval mode, outside inference mode, with autocast off; restore the train flags afterwards.

    Grad mode is left as it is: callers add ``torch.no_grad()`` or ``torch.enable_grad()``.
    """
    training = {name: m.training for name, m in model.named_modules()}
    try:
        model.eval()
        with torch.inference_mode(False), torch.autocast(device_type=device_type, enabled=False):
            yield
    finally:
        for name, module in model.named_modules():
            module.train(training.get(name, module.training))


def as_input(x: torch.Tensor) -> torch.Tensor:
    """``x`` detached as float32, copied when it was made under ``torch.inference_mode()`` (call it inside
    :func:`evaluating`, so the copy is a normal tensor that autograd can use)."""
    inputs = x.detach().float()
    return inputs.clone() if inputs.is_inference() else inputs


def pin_target(outputs: torch.Tensor, target: Target) -> Target:
    """Fix the explained class of each sample from the unperturbed ``outputs`` ``(B, K)``.

    ``None`` becomes each sample's arg-max class (class 0 for a single output), an ``int`` or a sequence a
    ``(B,)`` long tensor, so perturbed or noisy copies keep the class of the original. A callable is returned
    unchanged. Raises ``ValueError`` when the target does not fit the outputs.
    """
    if callable(target) and not isinstance(target, torch.Tensor):
        _select(outputs, target)
        return target
    batch = outputs.shape[0]
    flat = outputs.reshape(batch, -1)
    if target is None:
        classes = torch.zeros(batch, dtype=torch.long) if flat.shape[1] == 1 else flat.argmax(1).cpu()
    elif isinstance(target, int):
        classes = torch.full((batch,), target, dtype=torch.long)
    else:
        classes = torch.as_tensor(target, dtype=torch.long).reshape(-1).cpu()
    _select(outputs, classes)  # validates the number and range of the classes
    return classes


def to_probability(outputs: torch.Tensor) -> torch.Tensor:
    """Class probabilities ``(B, K)``: softmax over ``K > 1`` outputs, sigmoid of a single output.

    The activation follows the number of *outputs*, never the input's channel count.
    """
    if outputs.ndim > 2:
        raise ValueError(f"expected outputs (B, K) or (B,), got {tuple(outputs.shape)}; use a callable target")
    flat = outputs.reshape(outputs.shape[0], -1).float()
    return torch.sigmoid(flat) if flat.shape[1] == 1 else torch.softmax(flat, dim=1)


def target_scores(outputs: torch.Tensor, target: Target, ids: torch.Tensor, *, probability: bool) -> torch.Tensor:
    """``(n,)`` scores of a chunk of copies; ``ids`` ``(n,)`` are the samples they come from.

    ``target`` is a pinned target (:func:`pin_target`). A callable gets the raw outputs; a class index picks
    a probability (``probability=True``) or the raw output.
    """
    if callable(target) and not isinstance(target, torch.Tensor):
        return _select(outputs, target)
    if not isinstance(target, torch.Tensor):
        raise TypeError("pin the target with pin_target first")
    return _select(to_probability(outputs) if probability else outputs, target[ids.cpu()])


def unit_max(maps: torch.Tensor) -> torch.Tensor:
    """Divide each sample of ``(B, ...)`` by its maximum and clip to [0, 1]; a sample with no positive value -> 0."""
    maps = maps.float().clamp_min(0.0)
    peak = maps.flatten(1).amax(dim=1).reshape(-1, *([1] * (maps.ndim - 1)))
    scaled = maps / peak.clamp_min(torch.finfo(maps.dtype).tiny)
    return torch.where(peak > 0, scaled, torch.zeros_like(maps)).clamp(0.0, 1.0)
