"""Export a bundle folder's trained network to TorchScript and ONNX, metadata included."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from monai.bundle import ConfigParser

from monai_ext.bundle.export.formats import export_onnx, export_torchscript
from monai_ext.engines.training.best_model import sha256_of

__all__ = ["BundleExportError", "ExportedFiles", "export_bundle", "verify_weights"]


class BundleExportError(ValueError):
    """A bundle file is missing or does not match its manifest; the message names the file."""


@dataclass(frozen=True)
class ExportedFiles:
    """Paths written by :func:`export_bundle` (``None`` for a format not asked for)."""

    torchscript: Path | None
    onnx: Path | None


def verify_weights(weights: Path) -> None:
    """Check ``weights`` against ``<weights>.sha256`` when that manifest exists.

    Raises:
        BundleExportError: the hash differs (the file changed after it was written or was replaced).
    """
    manifest = weights.with_name(weights.name + ".sha256")
    if not manifest.is_file():
        return
    expected = manifest.read_text().split()[0]
    actual = sha256_of(weights)
    if actual != expected:
        raise BundleExportError(f"{weights}: sha256 {actual} differs from {manifest} ({expected})")


def export_bundle(
    bundle: str | os.PathLike[str],
    *,
    out_dir: str | os.PathLike[str] | None = None,
    config: str = "configs/inference.json",
    net_id: str = "network_def",
    weights: str = "models/model.pt",
    torchscript: bool = True,
    onnx: bool = True,
) -> ExportedFiles:
    """Build ``net_id`` from ``config``, load ``weights`` (``weights_only=True``, sha256 checked) and export.

    The config is parsed with MONAI's ``ConfigParser``, which evaluates its ``$`` expressions: export
    only bundles you trust.

    Args:
        bundle: bundle folder.
        out_dir: where ``model.ts`` and ``model.onnx`` go (default: the bundle's ``models/``).
        config: config file (relative to the bundle) holding ``net_id``.
        net_id: config ID of the network definition.
        weights: state dict file relative to the bundle.
        torchscript: write ``model.ts``.
        onnx: write ``model.onnx``.

    Raises:
        BundleExportError: a file is missing or the weights do not match their manifest.
    """
    root = Path(bundle)
    meta_path, config_path, weights_path = root / "configs" / "metadata.json", root / config, root / weights
    for path in (meta_path, config_path, weights_path):
        if not path.is_file():
            raise BundleExportError(f"{path}: missing (needed to export {root})")
    verify_weights(weights_path)
    metadata = json.loads(meta_path.read_text())
    parser = ConfigParser()
    parser.read_config(config_path)
    parser["bundle_root"] = str(root)
    network = parser.get_parsed_content(net_id).cpu().eval()
    network.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
    out = Path(out_dir) if out_dir else weights_path.parent
    names = metadata["network_data_format"]
    ts = export_torchscript(network, out / "model.ts", metadata) if torchscript else None
    onnx_path = None
    if onnx:
        onnx_path = export_onnx(
            network,
            out / "model.onnx",
            metadata,
            input_names=list(names["inputs"])[:1],
            output_names=list(names["outputs"])[:1],
        )
    return ExportedFiles(torchscript=ts, onnx=onnx_path)
