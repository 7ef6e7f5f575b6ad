"""The DICOM side of ``monai-ext infer``: a series from a PACS as input, DICOM objects as output.

- ``--pacs SERVER --study UID --series UID`` pulls the series into the cache (``--cache``) and runs on it;
  the positional input is then left out.
- ``--dicom-out DIR`` writes the results as DICOM SEG / Parametric Map / SR referencing the input series
  (the input must be a DICOM series folder, or come from ``--pacs``); ``--push-results`` stores them
  on the ``--pacs`` server.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from monai_ext.cli.pacs import CACHE_HELP, add_server_arguments, server_from_args

__all__ = ["add_arguments", "resolve_input", "write_dicom_outputs"]


def _threshold(text: str) -> float | None:
    if text.lower() in ("off", "none"):
        return None
    try:
        value = float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"a number in (0, 1] or 'off', got {text!r}") from err
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"a number in (0, 1] or 'off', got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The PACS input and DICOM output options."""
    group = parser.add_argument_group("PACS input and DICOM output")
    add_server_arguments(group, required=False)
    group.add_argument("--study", default=None, help="StudyInstanceUID of the input series (with --pacs)")
    group.add_argument("--series", default=None, help="SeriesInstanceUID of the input series (with --pacs)")
    group.add_argument("--cache", type=Path, default=None, help=CACHE_HELP)
    group.add_argument("--dicom-out", type=Path, default=None, help="also write DICOM SEG/parametric map/SR here")
    group.add_argument(
        "--dicom-seg-threshold",
        type=_threshold,
        default=0.5,
        metavar="LEVEL",
        help="with --dicom-out, also write each heatmap >= LEVEL as a SEG (default 0.5; 'off')",
    )
    group.add_argument("--push-results", action="store_true", help="store the --dicom-out objects on --pacs")


def resolve_input(args: argparse.Namespace) -> Path:
    """The input path: the positional one, or the series pulled from ``--pacs``.

    Raises:
        SystemExit: (argparse error) inconsistent options.
    """
    from_pacs = args.study is not None or args.series is not None
    if from_pacs == (args.input is not None):
        raise SystemExit("error: give either INPUT or --study and --series (with --pacs), not both or neither")
    if args.push_results and not args.dicom_out:
        raise SystemExit("error: --push-results needs --dicom-out")
    if not from_pacs:
        return Path(args.input)
    if not (args.study and args.series):
        raise SystemExit("error: --study and --series go together")
    from monai_ext.pacs import pull_series

    pulled = pull_series(server_from_args(args), study_uid=args.study, series_uid=args.series, cache_dir=args.cache)
    print(f"input: {pulled.path} ({pulled.n_instances} instances, {pulled.fetched} fetched)", file=sys.stderr)
    return pulled.path


def write_dicom_outputs(args: argparse.Namespace, summary: dict[str, Any], source: Path) -> None:
    """Write (and push) the DICOM results when ``--dicom-out`` is given."""
    if args.dicom_out is None:
        return
    if not source.is_dir():
        raise SystemExit(f"error: --dicom-out needs a DICOM series as input, {source} is not a folder")
    from monai_ext.dicom_results import write_dicom_results

    written = write_dicom_results(summary, source, args.dicom_out, threshold=args.dicom_seg_threshold)
    for name, path in written.files.items():
        print(f"wrote DICOM {name}: {path}")
    for warning in written.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.push_results:
        from monai_ext.pacs import push_files

        push_files(server_from_args(args), list(written.files.values()))
        print(f"stored {len(written.files)} DICOM object(s) on {args.pacs or 'the default server'}")
