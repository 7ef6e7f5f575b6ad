"""Evaluation output of a classifier: ``metrics.json``, a per-case CSV, a ROC curve and a confusion matrix."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from ignite.engine import Engine, Events

from monai_ext.engines.batch_ids import batch_case_ids
from monai_ext.io.atomic import atomic_path, atomic_write_text
from monai_ext.metrics import bootstrap_ci, classification_metrics, roc_auc, roc_curve

__all__ = ["ClassificationReport", "write_classification_report"]


def write_classification_report(
    output_dir: str | os.PathLike[str],
    *,
    case_ids: Sequence[str],
    labels: np.ndarray,
    probs: np.ndarray,
    class_names: Sequence[str],
    positive: int = 1,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``metrics.json``, ``cases.csv``, ``roc.png`` and ``confusion.png`` into ``output_dir``.

    ``metrics.json`` holds :func:`~monai_ext.metrics.classification_metrics` and ``auc_ci95``, the 95 %
    percentile-bootstrap interval of the AUC over the known cases.

    Args:
        output_dir: created when missing; every file is written atomically.
        case_ids: ``N`` case names.
        labels: ``(N,)`` integer labels, negative for unknown.
        probs: ``(N, C)`` class probabilities.
        class_names: ``C`` names.
        positive: positive class index (binary metrics and ROC).
        extra: more entries for ``metrics.json`` (dataset path, split, checkpoint ...).

    Returns:
        The metrics written.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = classification_metrics(labels, probs, positive=positive)
    known = labels >= 0
    interval = bootstrap_ci(roc_auc, labels[known] == positive, probs[known, positive]) if known.any() else None
    metrics["auc_ci95"] = list(interval) if interval else [math.nan, math.nan]
    metrics.update({"class_names": list(class_names), "positive_class": class_names[positive], **(extra or {})})
    atomic_write_text(out / "metrics.json", json.dumps(_json_safe(metrics), indent=2) + "\n")
    atomic_write_text(out / "cases.csv", _cases_csv(case_ids, labels, probs, class_names))
    known = labels >= 0
    if known.any() and len(set(labels[known].tolist())) > 1:
        _plot_roc(out / "roc.png", labels[known] == positive, probs[known, positive], metrics["auc"])
    if known.any():
        _plot_confusion(out / "confusion.png", np.asarray(metrics["confusion"]), class_names)
    return metrics


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _cases_csv(case_ids: Sequence[str], labels: np.ndarray, probs: np.ndarray, class_names: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["case_id", "label", "prediction", *[f"prob_{name}" for name in class_names]])
    for case, label, p in zip(case_ids, labels, probs, strict=True):
        truth = class_names[label] if label >= 0 else ""
        writer.writerow([case, truth, class_names[int(p.argmax())], *[f"{v:.6f}" for v in p]])
    return buffer.getvalue()


def _figure() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def _plot_roc(path: Path, positive: np.ndarray, scores: np.ndarray, auc: float) -> None:
    plt = _figure()
    fpr, tpr = roc_curve(positive, scores)
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ax.plot(fpr, tpr, lw=2, label=f"AUC = {auc:.3f}")
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right")
    _save(fig, path)


def _plot_confusion(path: Path, confusion: np.ndarray, class_names: Sequence[str]) -> None:
    plt = _figure()
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ax.imshow(confusion, cmap="Blues")
    for (i, j), count in np.ndenumerate(confusion):
        ax.text(j, i, str(count), ha="center", va="center", color="black", fontsize=12)
    ticks = range(len(class_names))
    ax.set(xticks=ticks, yticks=ticks, xlabel="predicted", ylabel="true", title="Confusion matrix")
    ax.set_xticklabels(class_names)
    ax.set_yticklabels(class_names)
    _save(fig, path)


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    _figure().close(fig)


class ClassificationReport:
    """Evaluator handler: collect each batch's probabilities, labels and case ids, write the report at the end.

    Reads ``engine.state.output`` (decollated items with ``pred`` = probabilities ``(C,)`` and ``label``,
    one-hot ``(C,)`` or an integer) and ``engine.state.batch["case_id"]``.

    Args:
        output_dir: folder of the report.
        class_names: class names in logit order.
        positive: positive class index.
        extra: more entries for ``metrics.json``.
    """

    def __init__(
        self,
        *,
        output_dir: str | os.PathLike[str],
        class_names: Sequence[str],
        positive: int = 1,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.output_dir = output_dir
        self.class_names = list(class_names)
        self.positive = positive
        self.extra = extra or {}
        self.metrics: dict[str, Any] = {}
        self._reset(None)

    def attach(self, engine: Engine) -> None:
        """Collect on every iteration, write on completion."""
        engine.add_event_handler(Events.STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.COMPLETED, self._write)

    def _reset(self, _engine: Engine | None) -> None:
        self.case_ids: list[str] = []
        self.labels: list[int] = []
        self.probs: list[np.ndarray] = []

    def _collect(self, engine: Engine) -> None:
        items = cast(list[dict[str, Any]], engine.state.output)
        ids = batch_case_ids(engine.state.batch, len(items), start=len(self.case_ids))
        for i, item in enumerate(items):
            self.probs.append(torch.as_tensor(item["pred"]).detach().float().cpu().numpy().reshape(-1))
            label = torch.as_tensor(item["label"]).detach().cpu().reshape(-1)
            self.labels.append(int(label.argmax()) if label.numel() > 1 else int(label.item()))
            self.case_ids.append(ids[i])

    def _write(self, _engine: Engine) -> None:
        self.metrics = write_classification_report(
            self.output_dir,
            case_ids=self.case_ids,
            labels=np.asarray(self.labels, dtype=np.int64),
            probs=np.stack(self.probs),
            class_names=self.class_names,
            positive=self.positive,
            extra=self.extra,
        )
