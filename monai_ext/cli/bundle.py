"""``monai-ext bundle export``: TorchScript and ONNX files that keep the bundle metadata."""

from __future__ import annotations

import argparse
from pathlib import Path

from monai_ext.bundle.export.folder import export_bundle

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``bundle`` command group."""
    parser = commands.add_parser("bundle", help="work with MONAI bundles")
    actions = parser.add_subparsers(dest="bundle_command", required=True)
    export = actions.add_parser("export", help="export a trusted bundle's network to TorchScript and ONNX")
    export.add_argument("bundle", type=Path, help="bundle folder")
    export.add_argument("--out", type=Path, default=None, help="output folder (default: the bundle's models/)")
    export.add_argument("--config", default="configs/inference.json", help="config holding the network")
    export.add_argument("--net-id", default="network_def", help="config ID of the network")
    export.add_argument("--no-onnx", action="store_true", help="skip ONNX")
    export.add_argument("--no-torchscript", action="store_true", help="skip TorchScript")
    export.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    files = export_bundle(
        args.bundle,
        out_dir=args.out,
        config=args.config,
        net_id=args.net_id,
        torchscript=not args.no_torchscript,
        onnx=not args.no_onnx,
    )
    for path in (files.torchscript, files.onnx):
        if path is not None:
            print(f"wrote {path}")
    return 0
