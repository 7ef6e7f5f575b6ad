"""Helpers shared by every explainer: model state, input conversion, targets and scores, per-sample scaling."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import nn

__all__ = [
    "Target",
    "as_input",
    "evaluating",
    "pin_target",
    "target_scores",
    "to_probability",
    "unit_max",
    "unit_max_",
]

Target = Callable[[torch.Tensor], torch.Tensor] | int | Sequence[int] | torch.Tensor | None


@contextlib.contextmanager
def evaluating(model: nn.Module, device_type: str) -> Iterator[None]:
    """Run ``model`` in eval mode, outside inference mode, with autocast off; restore the train flags afterwards.

    Leaving inference mode turns grad mode on: callers add ``torch.no_grad()`` or ``torch.enable_grad()``.
    Each submodule gets its own flag back (``module.training = flag``, not the recursive ``train()``), and a
    model already in eval mode is not touched.
    """
    training = [(module, module.training) for module in model.modules()]
    if any(flag for _, flag in training):
        model.eval()
    try:
        with torch.inference_mode(False), torch.autocast(device_type=device_type, enabled=False):
            yield
    finally:
        for module, flag in training:
            if module.training != flag:
                module.training = flag  # this module only: train() would also reset its children


def module_output(model: nn.Module, module: nn.Module, name: str, x: torch.Tensor) -> object:
    """What ``module`` (called ``name`` in ``model``) returns during ``model(x)``, in eval mode without autograd.

    The hook is removed in ``finally``. The last call counts when the module runs more than once.

    Raises:
        ValueError: the module was not used in the forward pass.
    """
    captured: list[object] = []
    handle = module.register_forward_hook(lambda _m, _i, output: captured.append(output))
    try:
        with evaluating(model, x.device.type), torch.no_grad():
            model(as_input(x))
    finally:
        handle.remove()
    if not captured:
        raise ValueError(f"layer {name!r} was not used in the forward pass")
    return captured[-1]


def as_input(x: torch.Tensor) -> torch.Tensor:
    """``x`` detached as float32, copied when it was made under ``torch.inference_mode()`` (call it inside
    :func:`evaluating`, so the copy is a normal tensor that autograd can use)."""
    inputs = x.detach().float()
    return inputs.clone() if inputs.is_inference() else inputs


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


def _peaks(maps: torch.Tensor) -> torch.Tensor:
    """Each sample's maximum of ``(B, ...)`` maps, shaped ``(B, 1, ..., 1)`` to broadcast against them."""
    return maps.flatten(1).amax(dim=1).reshape(-1, *([1] * (maps.ndim - 1)))


def unit_max(maps: torch.Tensor) -> torch.Tensor:
    """Divide each sample of ``(B, ...)`` by its maximum and clip to [0, 1]; a sample with no positive value -> 0."""
    maps = maps.float().clamp_min(0.0)
    peak = _peaks(maps)
    scaled = maps / peak.clamp_min(torch.finfo(maps.dtype).tiny)
    return torch.where(peak > 0, scaled, torch.zeros_like(maps)).clamp(0.0, 1.0)


def unit_max_(maps: torch.Tensor) -> torch.Tensor:
    """In-place :func:`unit_max` for float maps ``(B, ...)`` that are already >= 0, without full-size copies.

    Each sample is divided by its own maximum (an all-zero sample stays 0), so it reaches 1 even when that
    maximum is below ``torch.finfo(dtype).tiny`` (:func:`unit_max` divides such a sample by ``tiny``).
    """
    peak = _peaks(maps)
    return maps.div_(torch.where(peak > 0, peak, torch.ones_like(peak)))
