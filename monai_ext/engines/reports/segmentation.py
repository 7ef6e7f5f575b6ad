"""Evaluation output of a segmentation network: ``metrics.json``, ``cases.csv`` and ``overlays.png``.

Per case and label: Dice, HD95 (mm) and predicted and reference volumes (mm^3), computed on the grid the
evaluator works on (for the bundles here: 1 mm RAS after ``Spacingd``/``Orientationd``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from ignite.engine import Engine, Events

from monai_ext.engines.batch_ids import batch_case_ids
from monai_ext.engines.reports.overlay_grid import OverlayRow, axial_overlay_row, save_overlay_grid
from monai_ext.io.atomic import atomic_write_text
from monai_ext.metrics.bootstrap import bootstrap_ci
from monai_ext.metrics.segmentation import label_metrics

__all__ = ["SegmentationReport", "summarize_cases", "write_segmentation_report"]

_FIELDS = ("dice", "hd95_mm", "volume_mm3", "reference_volume_mm3")


def summarize_cases(cases: Sequence[Mapping[str, Any]], label_names: Mapping[int, str]) -> dict[str, Any]:
    """Mean, median and standard deviation of each label's scores over the cases (NaN scores left out).

    Args:
        cases: ``{"case_id", "labels": {value: {"dice", "hd95_mm", ...}}}`` per case.
        label_names: label value -> name.

    Returns:
        ``{"n_cases", "mean_dice", "mean_dice_ci95", "labels": {name: {"dice": {"mean", "median", "std", "n"},
        "hd95_mm": ...}}}``; ``mean_dice`` is the mean over labels of each label's mean Dice, ``mean_dice_ci95``
        the 95 % percentile-bootstrap interval ``[low, high]`` of the mean over cases of each case's mean Dice (the
        same number when no score is missing).

    Example:
        >>> s = summarize_cases([{"case_id": "a", "labels": {1: {"dice": 0.8, "hd95_mm": 2.0}}}], {1: "x"})
        >>> s["mean_dice"], s["labels"]["x"]["hd95_mm"]["median"]
        (0.8, 2.0)
    """
    labels: dict[str, Any] = {}
    for value, name in sorted(label_names.items()):
        labels[name] = {}
        for field in _FIELDS:
            values = np.array([c["labels"][value].get(field, math.nan) for c in cases], dtype=np.float64)
            values = values[np.isfinite(values)]
            labels[name][field] = {
                "mean": float(values.mean()) if values.size else math.nan,
                "median": float(np.median(values)) if values.size else math.nan,
                "std": float(values.std()) if values.size else math.nan,
                "n": int(values.size),
            }
    dice = [v["dice"]["mean"] for v in labels.values() if math.isfinite(v["dice"]["mean"])]
    return {
        "n_cases": len(cases),
        "mean_dice": float(np.mean(dice)) if dice else math.nan,
        "mean_dice_ci95": _case_mean_dice_ci(cases, label_names),
        "labels": labels,
    }


def _case_mean_dice(scores: Mapping[int, Mapping[str, float]], label_names: Mapping[int, str]) -> float:
    """One case's mean Dice over its labels with a finite Dice (NaN when none has one)."""
    finite = [d for v in label_names if math.isfinite(d := scores[v].get("dice", math.nan))]
    return float(np.mean(finite)) if finite else math.nan


def _case_mean_dice_ci(cases: Sequence[Mapping[str, Any]], label_names: Mapping[int, str]) -> list[float]:
    """95 % bootstrap interval (over cases) of the mean Dice, from each case's mean over its finite labels."""
    per_case = np.array([_case_mean_dice(c["labels"], label_names) for c in cases], dtype=np.float64)
    per_case = per_case[np.isfinite(per_case)]
    if not per_case.size:
        return [math.nan, math.nan]
    return list(bootstrap_ci(np.mean, per_case))


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _cases_csv(cases: Sequence[Mapping[str, Any]], label_names: Mapping[int, str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    names = sorted(label_names.items())
    writer.writerow(["case_id", "mean_dice", *[f"{field}_{name}" for _, name in names for field in _FIELDS]])
    for case in cases:
        scores = [case["labels"][v][field] for v, _ in names for field in _FIELDS]
        mean = _case_mean_dice(case["labels"], label_names)
        writer.writerow([case["case_id"], f"{mean:.4f}", *[f"{s:.4f}" for s in scores]])
    return buffer.getvalue()


def write_segmentation_report(
    output_dir: str | os.PathLike[str],
    *,
    cases: Sequence[Mapping[str, Any]],
    label_names: Mapping[int, str],
    overlays: Sequence[OverlayRow] = (),
    label_colors: Mapping[int, Sequence[int]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``metrics.json`` (summary), ``cases.csv`` (one row per case) and ``overlays.png`` (when given rows).

    Args:
        output_dir: created when missing; every file is written atomically.
        cases: per-case scores, see :func:`summarize_cases`.
        label_names: label value -> name (background excluded).
        overlays: rows of the overlay grid.
        label_colors: label value -> ``(r, g, b)`` 0-255.
        extra: more entries for ``metrics.json`` (dataset, split, checkpoint ...).

    Returns:
        The summary written to ``metrics.json``.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize_cases(cases, label_names) | dict(extra or {})
    atomic_write_text(out / "metrics.json", json.dumps(_json_safe(summary), indent=2) + "\n")
    atomic_write_text(out / "cases.csv", _cases_csv(cases, label_names))
    if overlays:
        save_overlay_grid(out / "overlays.png", overlays, label_colors=label_colors, label_names=label_names)
    return summary


def _label_map(value: Any) -> np.ndarray:
    """``(C, I, J, K)`` one-hot/probabilities -> argmax; ``(1, I, J, K)`` or ``(I, J, K)`` labels as they are."""
    tensor = torch.as_tensor(value).detach().cpu().as_subclass(torch.Tensor)
    if tensor.ndim == 4 and tensor.shape[0] > 1:
        tensor = tensor.argmax(dim=0)
    elif tensor.ndim == 4:
        tensor = tensor[0]
    return tensor.round().to(torch.int64).numpy()


class SegmentationReport:
    """Evaluator handler: score each case as it is predicted, write the report when the run completes.

    Reads the decollated ``engine.state.output`` items (``pred`` and ``label``: one-hot ``(C, I, J, K)`` or
    label maps ``(1, I, J, K)``; ``image`` ``(1, I, J, K)`` for the overlays) and the batch's ``case_id``.
    The overlay grid shows the ``overlay_cases`` cases with the lowest mean Dice (worst first), each at the
    axial slice where the reference covers the most voxels.

    Args:
        output_dir: folder of the report.
        label_names: label value -> name, e.g. ``{"1": "anterior", "2": "posterior"}`` (background excluded).
        spacing: voxel size (mm) of the evaluated grid.
        label_colors: label value -> ``(r, g, b)`` 0-255 for the overlays.
        overlay_cases: rows of the overlay grid (0: no PNG).
        extra: more entries for ``metrics.json``.
    """

    def __init__(
        self,
        *,
        output_dir: str | os.PathLike[str],
        label_names: Mapping[str | int, str],
        spacing: Sequence[float] = (1.0, 1.0, 1.0),
        label_colors: Mapping[str | int, Sequence[int]] | None = None,
        overlay_cases: int = 12,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.output_dir = output_dir
        self.label_names = {int(k): str(v) for k, v in label_names.items()}
        self.spacing = [float(s) for s in spacing]
        self.label_colors = {int(k): tuple(int(c) for c in v) for k, v in (label_colors or {}).items()}
        self.overlay_cases = int(overlay_cases)
        self.extra = dict(extra or {})
        self.summary: dict[str, Any] = {}
        self._reset(None)

    def attach(self, engine: Engine) -> None:
        """Score on every iteration, write on completion."""
        engine.add_event_handler(Events.STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.COMPLETED, self._write)

    def _reset(self, _engine: Engine | None) -> None:
        self.cases: list[dict[str, Any]] = []
        self._rows: list[tuple[float, OverlayRow]] = []

    def _collect(self, engine: Engine) -> None:
        items = cast(list[dict[str, Any]], engine.state.output)
        ids = batch_case_ids(engine.state.batch, len(items), start=len(self.cases))
        for case_id, item in zip(ids, items, strict=True):
            pred, reference = _label_map(item["pred"]), _label_map(item["label"])
            scores = label_metrics(pred, reference, labels=list(self.label_names), spacing=self.spacing)
            self.cases.append({"case_id": case_id, "labels": scores})
            if self.overlay_cases > 0 and "image" in item:
                mean = _case_mean_dice(scores, self.label_names)
                mean = mean if math.isfinite(mean) else 0.0
                image = torch.as_tensor(item["image"]).detach().cpu().float().numpy()[0]
                self._rows.append((mean, axial_overlay_row(f"{case_id}  Dice {mean:.3f}", image, reference, pred)))

    def _write(self, _engine: Engine) -> None:
        worst = [row for _, row in sorted(self._rows, key=lambda r: r[0])[: self.overlay_cases]]
        self.summary = write_segmentation_report(
            self.output_dir,
            cases=self.cases,
            label_names=self.label_names,
            overlays=worst,
            label_colors=self.label_colors,
            extra=self.extra | {"spacing_mm": self.spacing},
        )
