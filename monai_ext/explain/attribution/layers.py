"""The default Grad-CAM target layer: the last spatial map of a network's forward pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeGuard

import torch
from torch import nn

from monai_ext.explain.attribution._common import as_input, evaluating

__all__ = ["default_target_layer"]


def default_target_layer(model: nn.Module, x: torch.Tensor) -> str:
    """Name of the last layer (in forward order) whose output is a ``(B, C, *spatial)`` map larger than 1 voxel.

    One forward pass without autograd, in eval mode, with a hook on every submodule. Among the modules that
    returned that same tensor (a block, its last stage, the in-place activation inside it) the deepest one whose
    output already held the final values is chosen, e.g. ``class_layers.relu`` for MONAI's ``DenseNet121``.

    Args:
        model: the network.
        x: an input batch ``(B, C, *spatial)`` of the size to explain (the map size depends on it).

    Returns:
        A name from ``model.named_modules()``.

    Raises:
        ValueError: no submodule returns a ``(B, C, *spatial)`` tensor with every spatial size above 1.
    """
    group: list[tuple[str, int]] = []  # modules returning the current candidate tensor, with its version
    current: list[torch.Tensor] = []

    def record(name: str) -> Callable[[nn.Module, object, object], None]:
        def hook(_module: nn.Module, _inputs: object, output: object) -> None:
            if not _is_spatial_map(output, x):
                return
            if not current or current[0] is not output:
                group.clear()
                current[:] = [output]
            group.append((name, output._version))

        return hook

    handles = [module.register_forward_hook(record(name)) for name, module in model.named_modules() if name]
    try:
        with evaluating(model, x.device.type), torch.no_grad():
            model(as_input(x))
    finally:
        for handle in handles:
            handle.remove()
    if not group:
        raise ValueError(f"no layer returns a (B, C, *spatial) map larger than 1 voxel for input {tuple(x.shape)}")
    final = max(version for _, version in group)
    finished = [(name.count("."), order, name) for order, (name, version) in enumerate(group) if version == final]
    return max(finished)[2]


def _is_spatial_map(output: object, x: torch.Tensor) -> TypeGuard[torch.Tensor]:
    """Whether ``output`` is a float ``(B, C, *spatial)`` tensor like ``x`` with every spatial size above 1."""
    if not isinstance(output, torch.Tensor) or not output.is_floating_point() or output.ndim != x.ndim:
        return False
    return output.shape[0] == x.shape[0] and all(size > 1 for size in output.shape[2:])
