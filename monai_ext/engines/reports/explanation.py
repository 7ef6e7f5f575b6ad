"""Evaluator handler: how faithful the classifier's Grad-CAM maps are, by the deletion curve, against random maps.

For the first ``max_cases`` evaluated cases it computes the Grad-CAM map of the predicted class and a random
map (uniform noise from a seeded generator), and the area under each one's deletion curve
(:func:`~monai_ext.explain.deletion_auc`: the class probability as the most important voxels are removed
first; lower = more faithful). A map that explains the model must beat the random map. The result is
``output_dir/explanations.json``.
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Engine, Events
from torch import nn

from monai_ext.explain.attribution.gradcam import grad_cam
from monai_ext.explain.map_quality.deletion import deletion_auc
from monai_ext.io.atomic import atomic_write_text

__all__ = ["ExplanationReport"]


class ExplanationReport:
    """Deletion-curve faithfulness of Grad-CAM against random maps, over the first evaluated cases.

    Args:
        output_dir: folder of ``explanations.json``.
        network: the evaluated network (maps ``(B, C, *spatial)`` to class logits).
        target_layer: Grad-CAM layer (``None``: automatic).
        max_cases: number of cases explained (the first ones of the loader).
        steps: deletion-curve steps.
        seed: seed of the random maps.
        image_key: batch key of the network input.
    """

    def __init__(
        self,
        *,
        output_dir: str | os.PathLike[str],
        network: nn.Module,
        target_layer: str | None = None,
        max_cases: int = 16,
        steps: int = 20,
        seed: int = 0,
        image_key: str = "image",
    ) -> None:
        self.output_dir = Path(output_dir)
        self.network = network
        self.target_layer = target_layer
        self.max_cases = int(max_cases)
        self.steps = int(steps)
        self.seed = int(seed)
        self.image_key = image_key
        self.rows: list[dict[str, float]] = []

    def attach(self, engine: Engine) -> None:
        """Register on the evaluator."""
        engine.add_event_handler(Events.STARTED, lambda _: self.rows.clear())
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.COMPLETED, self._write)

    def _collect(self, engine: Engine) -> None:
        left = self.max_cases - len(self.rows)
        images = _images(engine.state.batch, self.image_key)
        if left <= 0 or images is None:
            return
        device = next(self.network.parameters()).device
        x = images[:left].float().to(device)
        generator = torch.Generator().manual_seed(self.seed + len(self.rows))
        cams = grad_cam(self.network, x, self.target_layer)[:, 0]
        noise = torch.rand(cams.shape, generator=generator).to(device)
        for i in range(x.shape[0]):
            sample = x[i : i + 1]
            self.rows.append(
                {
                    "gradcam": deletion_auc(self.network, sample, cams[i : i + 1], steps=self.steps),
                    "random": deletion_auc(self.network, sample, noise[i : i + 1], steps=self.steps),
                }
            )

    def summary(self) -> dict[str, Any]:
        """Medians and means of both areas, and how often Grad-CAM beat the random map."""
        if not self.rows:
            return {"cases": 0}
        out: dict[str, Any] = {"cases": len(self.rows), "steps": self.steps, "target_layer": self.target_layer}
        for name in ("gradcam", "random"):
            values = [row[name] for row in self.rows]
            out[f"deletion_auc_{name}_median"] = statistics.median(values)
            out[f"deletion_auc_{name}_mean"] = statistics.fmean(values)
        out["gradcam_beats_random"] = sum(r["gradcam"] < r["random"] for r in self.rows) / len(self.rows)
        return out

    def _write(self, _engine: Engine) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        payload = self.summary() | {"per_case": self.rows}
        atomic_write_text(self.output_dir / "explanations.json", json.dumps(payload, indent=2) + "\n")


def _images(batch: Any, key: str) -> torch.Tensor | None:
    """``(B, C, *spatial)`` inputs from a collated batch or from MONAI's decollated list of dicts."""
    if isinstance(batch, dict) and key in batch:
        return torch.as_tensor(batch[key]).as_subclass(torch.Tensor)
    if isinstance(batch, list) and batch and all(isinstance(item, dict) and key in item for item in batch):
        return torch.stack([torch.as_tensor(item[key]).as_subclass(torch.Tensor) for item in batch])
    return None
