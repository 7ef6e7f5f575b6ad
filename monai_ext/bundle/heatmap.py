"""The runner's choice of explanation method for a classifier, with progress and an up-front cost estimate."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from monai_ext.explain import OcclusionPlan, grad_cam, grad_cam_pp, occlusion_sensitivity, smooth_grad

__all__ = ["HEATMAP_METHODS", "SHARED_FORWARD_METHODS", "OutputRecorder", "compute_heatmap"]

HEATMAP_METHODS = ("gradcam", "gradcampp", "occlusion", "smoothgrad")
SHARED_FORWARD_METHODS = ("gradcam", "gradcampp")  # one pass gives the class scores and the map


class OutputRecorder(nn.Module):
    """Wraps a network and keeps its last output, detached, so a Grad-CAM pass also yields the prediction.

    Layer names gain the prefix ``network.`` (see :meth:`layer`).
    """

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network
        self.output: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The wrapped network's output, also kept in ``self.output``."""
        out = self.network(x)
        self.output = out.detach()
        return out

    @staticmethod
    def layer(name: str | None) -> str | None:
        """The wrapped network's layer ``name`` as seen from the recorder."""
        return None if name is None else f"network.{name}"


def compute_heatmap(
    network: nn.Module,
    x: torch.Tensor,
    *,
    method: str,
    target: int | None,
    target_layer: str | None,
    progress: Callable[[str, float, str], None],
    baseline: torch.Tensor | None = None,
) -> torch.Tensor:
    """Explain ``target`` (a class index; ``None`` = arg-max) for ``x`` of shape ``(1, C, *spatial)``.

    ``baseline`` (``x``'s shape, e.g. zeros) makes the Grad-CAM methods explain the evidence relative to that
    input (see :func:`~monai_ext.explain.grad_cam`); occlusion and SmoothGrad do not use it.

    Returns:
        ``(1, 1, *spatial)`` float32 in [0, 1], 1 = most important.

    Raises:
        ValueError: unknown method.
    """
    if method == "gradcam":
        return grad_cam(network, x, target_layer, target=target, baseline=baseline)
    if method == "gradcampp":
        return grad_cam_pp(network, x, target_layer, target=target, baseline=baseline)
    if method == "smoothgrad":
        return smooth_grad(network, x, target=target)
    if method == "occlusion":

        def announce(plan: OcclusionPlan, seconds: float) -> None:
            progress("heatmap", 0.5, f"Occlusion: {plan.forward_passes} forward passes, about {seconds:.0f} s")

        return occlusion_sensitivity(network, x, target=target, on_plan=announce)
    raise ValueError(f"unknown heatmap method {method!r}; choose one of {HEATMAP_METHODS}")
