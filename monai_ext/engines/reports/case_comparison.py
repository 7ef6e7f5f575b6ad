"""Two evaluations of the same cases side by side: paired differences of every per-case score in ``cases.csv``.

``SegmentationReport`` writes one row per case; two runs of ``evaluate.json`` (two checkpoints, two inferers, a
release and a candidate) on the same split give two such files. Comparing their means alone hides that the same
cases are hard for both: the paired bootstrap interval of the difference is far narrower than either mean's, and
it says whether a change is real.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from monai_ext.metrics.bootstrap import paired_difference

__all__ = ["CaseTableError", "compare_case_tables", "read_case_table"]


class CaseTableError(ValueError):
    """A ``cases.csv`` that cannot be read or compared; names the file and the problem."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        super().__init__(f"{self.path}: {problem}")


def read_case_table(path: str | Path) -> dict[str, dict[str, float]]:
    """``case_id -> {column: value}`` of a per-case CSV (empty or non-numeric cells read as NaN).

    Raises:
        CaseTableError: the file is missing, has no ``case_id`` column, no rows, or a repeated case.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise CaseTableError(path, f"cannot be read ({err})") from err
    if not rows or "case_id" not in rows[0]:
        raise CaseTableError(path, "no rows with a case_id column (expected an evaluation's cases.csv)")
    table: dict[str, dict[str, float]] = {}
    for row in rows:
        case = str(row["case_id"])
        if case in table:
            raise CaseTableError(path, f"case {case!r} appears twice")
        table[case] = {k: _number(v) for k, v in row.items() if k != "case_id" and k is not None}
    return table


def _number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def compare_case_tables(
    reference: str | Path, candidate: str | Path, *, columns: Sequence[str] | None = None, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """``column -> paired_difference(reference, candidate)`` over the cases both files hold.

    Args:
        reference: ``cases.csv`` of the reference run (``a``).
        candidate: ``cases.csv`` of the candidate run (``b``; a positive difference means the candidate scores
            higher).
        columns: the columns to compare; default every column that both files share and that has at least one
            number (``mean_dice``, ``dice_<label>``, ``hd95_mm_<label>``, volumes ...).
        seed: bootstrap seed.

    Raises:
        CaseTableError: the files share no case or none of ``columns``, or a column holds no pair of numbers.
    """
    a, b = read_case_table(reference), read_case_table(candidate)
    cases = [c for c in a if c in b]
    if not cases:
        raise CaseTableError(candidate, f"no case in common with {reference}")
    shared = [k for k in next(iter(a.values())) if k in next(iter(b.values()))]
    wanted = list(columns) if columns is not None else shared
    missing = [k for k in wanted if k not in shared]
    if missing or not wanted:
        raise CaseTableError(candidate, f"columns {missing or wanted} are not in both files (shared: {shared})")
    only_in_one = len(a) + len(b) - 2 * len(cases)
    out: dict[str, dict[str, Any]] = {}
    for column in wanted:
        x = np.array([a[c][column] for c in cases])
        y = np.array([b[c][column] for c in cases])
        if not (np.isfinite(x) & np.isfinite(y)).any():
            if columns is not None:
                raise CaseTableError(candidate, f"column {column!r} holds no case scored in both files")
            continue
        out[column] = paired_difference(x, y, seed=seed) | {"cases_only_in_one": only_in_one}
    return out
