"""Two evaluations' cases.csv compared case by case: real report files, pairing, missing cases, bad files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from monai_ext.engines import CaseTableError, compare_case_tables, read_case_table, write_segmentation_report
from monai_ext.metrics import paired_difference

NAMES = {1: "anterior", 2: "posterior"}


def _report(out: Path, dice: dict[str, tuple[float, float]]) -> Path:
    cases = [
        {
            "case_id": case,
            "labels": {
                v: {"dice": d, "hd95_mm": 1.0, "volume_mm3": 100.0, "reference_volume_mm3": 100.0}
                for v, d in zip((1, 2), pair, strict=True)
            },
        }
        for case, pair in dice.items()
    ]
    write_segmentation_report(out, cases=cases, label_names=NAMES)
    return out / "cases.csv"


def test_a_small_consistent_gain_is_found_that_the_means_alone_hide(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    base = {f"case_{i:03d}": tuple(rng.normal(0.88, 0.04, 2).clip(0, 1)) for i in range(30)}
    better = {c: (a + 0.004, b + 0.004) for c, (a, b) in base.items()}
    result = compare_case_tables(_report(tmp_path / "a", base), _report(tmp_path / "b", better))
    mean = result["mean_dice"]
    assert mean["n"] == 30 and mean["b_better"] == 30 and mean["a_better"] == 0
    assert mean["difference"] == pytest.approx(0.004, abs=1e-4)  # the CSV keeps 4 decimals
    assert 0.003 < mean["interval"][0] <= mean["interval"][1] < 0.005  # paired: a tight interval above zero
    assert result["hd95_mm_anterior"]["difference"] == 0.0
    values = np.array([np.mean(v) for v in base.values()])
    spread = values.std(ddof=1) / math.sqrt(len(values))
    assert spread > 0.004  # unpaired, the two means would not tell the runs apart


def test_only_shared_cases_count_and_the_rest_are_reported(tmp_path: Path) -> None:
    a = _report(tmp_path / "a", {"x": (0.8, 0.8), "y": (0.9, 0.9), "z": (0.7, 0.7)})
    b = _report(tmp_path / "b", {"y": (0.95, 0.95), "x": (0.7, 0.7), "w": (0.1, 0.1)})
    result = compare_case_tables(a, b, columns=["mean_dice"])
    assert result["mean_dice"]["n"] == 2 and result["mean_dice"]["cases_only_in_one"] == 2
    assert result["mean_dice"]["difference"] == pytest.approx((0.05 - 0.1) / 2)


def test_nan_scores_are_left_out(tmp_path: Path) -> None:
    a = _report(tmp_path / "a", {"x": (0.8, math.nan), "y": (0.9, 0.6)})
    b = _report(tmp_path / "b", {"x": (0.9, 0.5), "y": (0.9, 0.7)})
    result = compare_case_tables(a, b, columns=["dice_posterior"])
    assert result["dice_posterior"]["n"] == 1 and result["dice_posterior"]["difference"] == pytest.approx(0.1)


def test_read_case_table_reads_numbers_and_nan(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_text("case_id,mean_dice,note\na,0.5,\nb,nan,x\n")
    assert read_case_table(path)["a"]["mean_dice"] == 0.5
    assert math.isnan(read_case_table(path)["b"]["mean_dice"]) and math.isnan(read_case_table(path)["a"]["note"])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "no rows with a case_id"),
        ("name,dice\na,0.5\n", "no rows with a case_id"),
        ("case_id,dice\na,0.5\na,0.6\n", "appears twice"),
    ],
)
def test_bad_tables_name_the_file(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "cases.csv"
    path.write_text(text)
    with pytest.raises(CaseTableError, match=match) as err:
        read_case_table(path)
    assert str(path) in str(err.value)


def test_missing_file_no_common_case_or_column(tmp_path: Path) -> None:
    a = _report(tmp_path / "a", {"x": (0.8, 0.8)})
    b = _report(tmp_path / "b", {"y": (0.8, 0.8)})
    with pytest.raises(CaseTableError, match="cannot be read"):
        read_case_table(tmp_path / "absent.csv")
    with pytest.raises(CaseTableError, match="no case in common"):
        compare_case_tables(a, b)
    with pytest.raises(CaseTableError, match="not in both"):
        compare_case_tables(a, a, columns=["dice_hippocampus"])


def test_paired_difference_refuses_unpaired_input() -> None:
    with pytest.raises(ValueError, match="same cases"):
        paired_difference(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="no case"):
        paired_difference(np.array([math.nan]), np.array([1.0]))
