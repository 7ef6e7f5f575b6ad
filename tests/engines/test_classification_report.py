"""The evaluation report: metrics.json, per-case CSV and the two figures."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from monai_ext.engines import write_classification_report


def test_report_files(tmp_path: Path) -> None:
    labels = np.array([0, 1, 0, 1, -1])
    probs = np.array([[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.9, 0.1], [0.5, 0.5]])
    metrics = write_classification_report(
        tmp_path / "out",
        case_ids=["a", "b", "c", "d", "e"],
        labels=labels,
        probs=probs,
        class_names=["normal", "hyperplasia"],
        extra={"split": "val"},
    )
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["split"] == "val"
    assert saved["n"] == 4
    assert saved["acc"] == pytest.approx(0.5)
    assert saved["auc"] == pytest.approx(metrics["auc"]) == pytest.approx(0.5)
    low, high = saved["auc_ci95"]
    assert 0.0 <= low < 0.5 < high <= 1.0  # four cases: an interval that says how little 0.5 means
    rows = list(csv.DictReader((tmp_path / "out" / "cases.csv").open()))
    assert [r["case_id"] for r in rows] == ["a", "b", "c", "d", "e"]
    assert rows[1]["label"] == "hyperplasia"
    assert rows[4]["label"] == ""
    assert rows[2]["prediction"] == "hyperplasia"
    assert float(rows[0]["prob_normal"]) == pytest.approx(0.8)
    for name in ("roc.png", "confusion.png"):
        assert (tmp_path / "out" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_without_labels_has_no_figures(tmp_path: Path) -> None:
    metrics = write_classification_report(
        tmp_path, case_ids=["x"], labels=np.array([-1]), probs=np.array([[0.2, 0.8]]), class_names=["a", "b"]
    )
    assert metrics["n"] == 0
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["acc"] is None and saved["auc_ci95"] == [None, None]
    assert not (tmp_path / "roc.png").exists()


def test_auc_interval_narrows_with_more_cases(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    widths = []
    for n in (40, 400):
        labels = rng.integers(0, 2, n)
        p = np.clip(0.5 + 0.3 * (labels - 0.5) + rng.normal(0, 0.2, n), 0, 1)
        metrics = write_classification_report(
            tmp_path / str(n), case_ids=[str(i) for i in range(n)], labels=labels,
            probs=np.stack([1 - p, p], 1), class_names=["a", "b"],
        )  # fmt: skip
        low, high = metrics["auc_ci95"]
        assert low < metrics["auc"] < high
        widths.append(high - low)
    assert widths[1] < 0.75 * widths[0]  # about 1 / sqrt(10) in theory; loosely, as the AUCs differ
