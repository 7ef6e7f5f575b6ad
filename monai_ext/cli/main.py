"""Entry point of the ``monai-ext`` command: sub-commands register themselves here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import monai_ext
from monai_ext.bundle.errors import BundleError
from monai_ext.bundle.exporter import BundleExportError
from monai_ext.cli import bundle, demo, dicom, infer, pacs, sample
from monai_ext.io.errors import DicomError
from monai_ext.pacs.errors import PacsError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="monai-ext", description="Medical imaging tools on MONAI.")
    parser.add_argument("--version", action="version", version=f"monai-ext {monai_ext.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    dicom.register(commands)
    demo.register(commands)
    bundle.register(commands)
    infer.register(commands)
    sample.register(commands)
    pacs.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 input problem)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (DicomError, BundleExportError, BundleError, PacsError) as err:
        print(f"error: {type(err).__name__}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
