"""Bundle tooling: the offline metadata schema and exports that keep the bundle metadata."""

from __future__ import annotations

from pathlib import Path

from monai_ext.bundle.export import example_input, export_onnx, export_torchscript, read_onnx_metadata
from monai_ext.bundle.exporter import BundleExportError, ExportedFiles, export_bundle, verify_weights

SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "meta_schema.json"

__all__ = [
    "SCHEMA_PATH",
    "BundleExportError",
    "ExportedFiles",
    "example_input",
    "export_bundle",
    "export_onnx",
    "export_torchscript",
    "read_onnx_metadata",
    "verify_weights",
]
