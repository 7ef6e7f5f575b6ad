"""Compare two evaluations of the same cases: paired differences of every per-case score, with bootstrap intervals.

Run from the repository root on two ``cases.csv`` files written by a bundle's ``evaluate.json`` (for example the
shipped checkpoint and a candidate, on the same split)::

    .venv/bin/python benchmarks/compare_evaluations.py EVAL_A/cases.csv EVAL_B/cases.csv
    .venv/bin/python benchmarks/compare_evaluations.py A.csv B.csv --columns mean_dice dice_anterior

A positive difference means B scores higher (for HD95 and volumes, higher is not better: read the sign).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monai_ext.engines import CaseTableError, compare_case_tables


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reference", type=Path, help="cases.csv of run A")
    parser.add_argument("candidate", type=Path, help="cases.csv of run B")
    parser.add_argument("--columns", nargs="+", default=None, help="columns to compare (default: all shared)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        table = compare_case_tables(args.reference, args.candidate, columns=args.columns, seed=args.seed)
    except CaseTableError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    n = next(iter(table.values()))["n"] if table else 0
    print(f"A = {args.reference}\nB = {args.candidate}\n{n} cases in both\n")
    print("| column | A | B | B - A | paired 95 % interval | B higher / A higher |")
    print("|---|---|---|---|---|---|")
    for column, r in table.items():
        low, high = r["interval"]
        print(
            f"| {column} | {r['mean_a']:.4f} | {r['mean_b']:.4f} | {r['difference']:+.4f} | "
            f"[{low:+.4f}, {high:+.4f}] | {r['b_better']} / {r['a_better']} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
