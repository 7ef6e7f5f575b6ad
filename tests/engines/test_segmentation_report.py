"""The segmentation evaluation report: summary, per-case CSV, overlay grid, and the evaluator handler."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from ignite.engine import Engine

from monai_ext.engines import SegmentationReport, axial_overlay_row, save_overlay_grid, summarize_cases

NAMES = {1: "anterior", 2: "posterior"}


def _case(case_id: str, d1: float, d2: float) -> dict:
    def label(dice: float) -> dict:
        return {
            "dice": dice,
            "hd95_mm": 1.0 if dice > 0 else math.nan,
            "volume_mm3": 10.0,
            "reference_volume_mm3": 12.0,
        }

    return {"case_id": case_id, "labels": {1: label(d1), 2: label(d2)}}


def test_summary_leaves_nan_out() -> None:
    summary = summarize_cases([_case("a", 0.8, 0.6), _case("b", 1.0, math.nan)], NAMES)
    assert summary["labels"]["anterior"]["dice"]["mean"] == pytest.approx(0.9)
    assert summary["labels"]["posterior"]["dice"] == {"mean": 0.6, "median": 0.6, "std": 0.0, "n": 1}
    assert summary["mean_dice"] == pytest.approx(0.75) and summary["n_cases"] == 2
    # case means 0.7 and 1.0 (b's missing posterior left out): the interval spans exactly those two
    assert summary["mean_dice_ci95"] == pytest.approx([0.7, 1.0])


def test_summary_interval_brackets_the_mean_of_real_spread() -> None:
    rng = np.random.default_rng(0)
    cases = [_case(str(i), *rng.normal(0.89, 0.03, 2).clip(0, 1)) for i in range(30)]
    summary = summarize_cases(cases, NAMES)
    low, high = summary["mean_dice_ci95"]
    assert low < summary["mean_dice"] < high and 0.005 < high - low < 0.03


def _item(pred: torch.Tensor, label: torch.Tensor) -> dict:
    onehot = lambda x: torch.nn.functional.one_hot(x.long(), 3).permute(3, 0, 1, 2).float()  # noqa: E731
    return {"pred": onehot(pred), "label": onehot(label), "image": torch.rand(1, *pred.shape)}


def test_handler_scores_cases_and_writes_files(tmp_path: Path) -> None:
    ref = torch.zeros(12, 14, 10, dtype=torch.long)
    ref[3:8, 3:7, 2:8], ref[3:8, 7:11, 2:8] = 1, 2
    wrong = ref.clone()
    wrong[wrong == 2] = 0  # posterior missed entirely
    batches = [
        {"batch": {"case_id": ["good"]}, "output": [_item(ref, ref)]},
        {"batch": {"case_id": ["bad"]}, "output": [_item(wrong, ref)]},
    ]

    def step(engine: Engine, batch: dict) -> list:
        engine.state.batch = batch["batch"]
        return batch["output"]

    engine = Engine(step)
    report = SegmentationReport(
        output_dir=tmp_path / "eval",
        label_names={"1": "anterior", "2": "posterior"},
        overlay_cases=2,
        extra={"split": "test"},
    )
    report.attach(engine)
    engine.run(batches, max_epochs=1)
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["split"] == "test" and metrics["n_cases"] == 2
    assert metrics["labels"]["anterior"]["dice"]["mean"] == 1.0
    assert metrics["labels"]["posterior"]["dice"]["mean"] == 0.5
    assert metrics["labels"]["posterior"]["hd95_mm"]["n"] == 1  # undefined for the missed label
    rows = list(csv.DictReader((tmp_path / "eval" / "cases.csv").open()))
    assert [r["case_id"] for r in rows] == ["good", "bad"]
    assert float(rows[1]["dice_posterior"]) == 0.0 and rows[1]["hd95_mm_posterior"] == "nan"
    assert float(rows[0]["volume_mm3_anterior"]) == 5 * 4 * 6
    png = (tmp_path / "eval" / "overlays.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_overlay_row_takes_the_fullest_axial_slice_and_grid_needs_rows(tmp_path: Path) -> None:
    ref = np.zeros((6, 6, 5), dtype=np.uint8)
    ref[1:5, 1:5, 3] = 1
    ref[2:3, 2:3, 1] = 2
    row = axial_overlay_row("x", np.ones_like(ref, dtype=float), ref, ref)
    assert row.reference.sum() == 16
    save_overlay_grid(tmp_path / "g.png", [row], label_names=NAMES)
    assert (tmp_path / "g.png").stat().st_size > 0
    with pytest.raises(ValueError, match="at least one case"):
        save_overlay_grid(tmp_path / "none.png", [])
