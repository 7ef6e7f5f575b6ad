"""Entry point of the ``monai-ext`` command.

Sub-commands are listed in :data:`COMMANDS` as ``name -> (module, help)``; each module has a
``register(commands)`` function that adds its parser. Only the module of the command being run is imported,
so ``monai-ext dicom ...`` never imports torch or MONAI (the bundle and inference commands do). To add a
command: write ``monai_ext/cli/<name>.py`` with ``register`` and add one line here.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

import monai_ext
from monai_ext.io.errors import DicomError

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS: dict[str, tuple[str, str]] = {
    "dicom": ("monai_ext.cli.dicom", "list and convert DICOM series"),
    "demo": ("monai_ext.cli.demo", "run the main job on an embedded example (no data needed)"),
    "bundle": ("monai_ext.cli.bundle", "work with MONAI bundles"),
    "infer": ("monai_ext.cli.infer", "run a bundle on a volume or a folder of volumes"),
    "sample": (
        "monai_ext.cli.sample",
        "write the embedded sample: an abdomen-like CT with both adrenal glands segmented",
    ),
    "pacs": ("monai_ext.cli.pacs", "query, pull from and push to a PACS (DICOMweb or DIMSE)"),
}

# Errors of the input, reported in one line with exit code 2: (module, class name). A module is only
# consulted when it was imported by the command that ran (so the check never imports torch).
USER_ERRORS: tuple[tuple[str, str], ...] = (
    ("monai_ext.bundle.errors", "BundleError"),
    ("monai_ext.bundle.export.folder", "BundleExportError"),
    ("monai_ext.pacs.errors", "PacsError"),
)


def build_parser(command: str | None = None, *, load_all: bool = True) -> argparse.ArgumentParser:
    """The argument parser: full parsers for ``command`` (or every command), placeholders for the rest.

    Args:
        command: the sub-command about to run; only its module is imported.
        load_all: with no ``command``, import every command's module for its full parser (``False``: the
            top-level help lists every command from :data:`COMMANDS` without importing any).
    """
    parser = argparse.ArgumentParser(prog="monai-ext", description="Medical imaging tools on MONAI.")
    parser.add_argument("--version", action="version", version=f"monai-ext {monai_ext.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        if name == command or (command is None and load_all):
            importlib.import_module(module).register(commands)
        else:
            commands.add_parser(name, help=help_text)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in COMMANDS else None


def _is_user_error(err: BaseException) -> bool:
    if isinstance(err, DicomError):
        return True
    for module, name in USER_ERRORS:
        loaded = sys.modules.get(module)
        kind = getattr(loaded, name, None) if loaded is not None else None
        if isinstance(kind, type) and isinstance(err, kind):
            return True
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 input problem)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(_command_of(argv), load_all=False).parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except Exception as err:
        if not _is_user_error(err):
            raise
        print(f"error: {type(err).__name__}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
