"""Evaluation of an autoencoder as an anomaly detector: scores per case, AUROC/AUPRC, histogram, CSV."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events

from monai_ext.engines.batch_ids import batch_case_ids
from monai_ext.explain.anomaly.residual import RECONSTRUCTION_SCORES, reconstruction_score, residual, residual_scale
from monai_ext.io.atomic import atomic_path, atomic_write_text
from monai_ext.metrics.anomaly import anomaly_metrics

__all__ = ["SCORE_NAMES", "AnomalyReport", "write_anomaly_report"]

# Score variants computed for every case; ``volume`` (foreground voxels of the input) is a reference, not a model score.
SCORE_NAMES = (*RECONSTRUCTION_SCORES, "volume")


def case_scores(
    image: torch.Tensor, reconstruction: torch.Tensor, *, sigma: float, top_fraction: float
) -> dict[str, np.ndarray]:
    """Per-case values for a batch ``(B, C, *spatial)``.

    Returns:
        ``mean`` (mean absolute residual), ``top`` (mean of the highest ``top_fraction`` voxels of the
        smoothed residual), ``signed`` (mean of ``image - reconstruction``), ``volume`` (fraction of voxels
        > 0.5 in the input), ``max`` (maximum of the smoothed residual, for the map scale) and ``bce``
        (binary cross-entropy of the reconstruction).
    """
    image, reconstruction = image.detach().float(), reconstruction.detach().float()
    smooth = residual(image, reconstruction, sigma=sigma)
    recon = reconstruction.clamp(1e-6, 1 - 1e-6)
    bce = -(image * recon.log() + (1 - image) * (1 - recon).log()).reshape(len(image), -1).mean(1)
    values = {
        name: reconstruction_score(image, reconstruction, score=name, sigma=sigma, top_fraction=top_fraction)
        for name in RECONSTRUCTION_SCORES
    } | {
        "volume": (image > 0.5).float().reshape(len(image), -1).mean(1),
        "max": smooth.reshape(len(image), -1).amax(1),
        "bce": bce,
    }
    return {k: v.cpu().numpy().astype(np.float64) for k, v in values.items()}


def summarize(labels: np.ndarray, values: dict[str, np.ndarray], *, score: str, percentile: float) -> dict[str, Any]:
    """Metrics of every score variant, the chosen ``score``'s AUROC/AUPRC at top level, the normal cases'
    mean error and the map scale (``percentile`` of the normal cases' residual maxima)."""
    if score not in SCORE_NAMES:
        raise ValueError(f"score must be one of {SCORE_NAMES}, got {score!r}")
    normal = labels == 0
    per_score = {name: anomaly_metrics(labels, values[name]) for name in SCORE_NAMES}
    return {
        "score": score,
        "auroc": per_score[score]["auroc"],
        "auprc": per_score[score]["auprc"],
        "normal_error": float(values["mean"][normal].mean()) if normal.any() else float("nan"),
        "normal_bce": float(values["bce"][normal].mean()) if normal.any() else float("nan"),
        "residual_scale": residual_scale(values["max"][normal], percentile=percentile) if normal.any() else None,
        "residual_scale_percentile": percentile,
        "scores": per_score,
    }


def write_anomaly_report(
    output_dir: str | os.PathLike[str],
    *,
    case_ids: Sequence[str],
    labels: np.ndarray,
    values: dict[str, np.ndarray],
    score: str = "mean",
    percentile: float = 99.0,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``metrics.json``, ``cases.csv`` and ``score_histogram.png`` into ``output_dir``.

    Args:
        output_dir: created when missing; files are written atomically.
        case_ids: ``N`` names.
        labels: ``(N,)`` 0 normal, 1 abnormal, negative unknown.
        values: :func:`case_scores` arrays, each ``(N,)``.
        score: the variant reported at top level and plotted.
        percentile: for the map scale.
        extra: more entries for ``metrics.json``.

    Returns:
        The metrics written.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = {**summarize(labels, values, score=score, percentile=percentile), **(extra or {})}
    atomic_write_text(out / "metrics.json", json.dumps(_json_safe(metrics), indent=2) + "\n")
    atomic_write_text(out / "cases.csv", _cases_csv(case_ids, labels, values))
    _plot_histogram(out / "score_histogram.png", labels, values[score], score, metrics["auroc"])
    return metrics


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _cases_csv(case_ids: Sequence[str], labels: np.ndarray, values: dict[str, np.ndarray]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    names = [*SCORE_NAMES, "max", "bce"]
    writer.writerow(["case_id", "label", *[f"score_{n}" for n in names]])
    for i, case in enumerate(case_ids):
        writer.writerow([case, int(labels[i]), *[f"{values[n][i]:.6g}" for n in names]])
    return buffer.getvalue()


def _plot_histogram(path: Path, labels: np.ndarray, scores: np.ndarray, score: str, auroc: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=100)
    bins = np.histogram_bin_edges(scores, bins=20).tolist()
    for value, name, colour in ((0, "normal (0)", "tab:blue"), (1, "hyperplasia (1)", "tab:red")):
        chosen = scores[labels == value]
        if chosen.size:
            ax.hist(chosen, bins=bins, alpha=0.6, color=colour, label=f"{name}, n={chosen.size}")
    ax.set(xlabel=f"anomaly score ({score})", ylabel="cases", title=f"Anomaly scores per class (AUROC {auroc:.3f})")
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


class AnomalyReport:
    """Evaluator handler: score every case by its reconstruction residual, then publish and write metrics.

    Reads the decollated ``engine.state.output`` items (``image`` = network input, ``pred`` =
    reconstruction, ``label`` = class label 0/1, unknown < 0) and ``engine.state.batch["case_id"]``. At
    ``EPOCH_COMPLETED`` it sets ``engine.state.metrics[prefix + name]`` for ``auroc``, ``auprc``,
    ``normal_error`` (mean absolute residual of the normal cases: the label-free model-selection metric)
    and ``normal_bce``, and, when ``output_dir`` is set, writes :func:`write_anomaly_report`. Attach it
    before the stats handlers so they log these metrics.

    Args:
        output_dir: folder of the report, or ``None`` to only publish metrics (validation in training).
        sigma: Gaussian sigma in voxels for the smoothed residual.
        top_fraction: fraction of voxels averaged by the ``top`` score.
        score: variant reported as ``auroc``/``auprc`` (``"mean"``, ``"top"`` or ``"volume"``).
        percentile: percentile of the normal cases' residual maxima used as the map scale.
        prefix: prefix of the published metric names (e.g. ``"val_"``).
        extra: more entries for ``metrics.json``.
    """

    def __init__(
        self,
        *,
        output_dir: str | os.PathLike[str] | None = None,
        sigma: float = 1.0,
        top_fraction: float = 0.01,
        score: str = "mean",
        percentile: float = 99.0,
        prefix: str = "",
        extra: dict[str, Any] | None = None,
    ) -> None:
        if score not in SCORE_NAMES:
            raise ValueError(f"score must be one of {SCORE_NAMES}, got {score!r}")
        self.output_dir = output_dir
        self.sigma = float(sigma)
        self.top_fraction = float(top_fraction)
        self.score = score
        self.percentile = float(percentile)
        self.prefix = prefix
        self.extra = extra or {}
        self.metrics: dict[str, Any] = {}
        self._reset(None)

    def attach(self, engine: Engine) -> None:
        """Collect on every iteration, publish (and write) at the end of the epoch."""
        engine.add_event_handler(Events.EPOCH_STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._finish)

    def _reset(self, _engine: Engine | None) -> None:
        self.case_ids: list[str] = []
        self.labels: list[int] = []
        self.values: dict[str, list[np.ndarray]] = {}

    def _collect(self, engine: Engine) -> None:
        items = engine.state.output
        if isinstance(items, dict):  # not decollated
            images, recons, labels = items["image"], items["pred"], items["label"]
        else:
            images = torch.stack([torch.as_tensor(o["image"]) for o in items])  # type: ignore[union-attr]
            recons = torch.stack([torch.as_tensor(o["pred"]) for o in items])  # type: ignore[union-attr]
            labels = torch.stack([torch.as_tensor(o["label"]).reshape(()) for o in items])  # type: ignore[union-attr]
        label_list = torch.as_tensor(labels).reshape(-1).tolist()
        self.case_ids += batch_case_ids(engine.state.batch, len(label_list), start=len(self.case_ids))
        self.labels += [int(label) for label in label_list]
        values = case_scores(
            torch.as_tensor(images).as_subclass(torch.Tensor),
            torch.as_tensor(recons).as_subclass(torch.Tensor),
            sigma=self.sigma,
            top_fraction=self.top_fraction,
        )
        for name, array in values.items():
            self.values.setdefault(name, []).append(array)

    def _finish(self, engine: Engine) -> None:
        labels = np.asarray(self.labels, dtype=np.int64)
        values = {name: np.concatenate(parts) for name, parts in self.values.items()}
        if self.output_dir is not None:
            self.metrics = write_anomaly_report(
                self.output_dir,
                case_ids=self.case_ids,
                labels=labels,
                values=values,
                score=self.score,
                percentile=self.percentile,
                extra=self.extra,
            )
        else:
            self.metrics = summarize(labels, values, score=self.score, percentile=self.percentile)
        for name in ("auroc", "auprc", "normal_error", "normal_bce"):
            engine.state.metrics[self.prefix + name] = self.metrics[name]
