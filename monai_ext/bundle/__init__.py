"""Bundles: safe loading, the runner shared by the CLI and Slicer, the offline schema, and exports."""

from __future__ import annotations

from monai_ext.bundle.errors import BundleError, BundleFileError, BundleInputError, UntrustedCodeError, WeightsError
from monai_ext.bundle.export.folder import BundleExportError, ExportedFiles, export_bundle, verify_weights
from monai_ext.bundle.export.formats import example_input, export_onnx, export_torchscript, read_onnx_metadata
from monai_ext.bundle.loader import SCHEMA_PATH, Bundle, load_bundle, read_metadata
from monai_ext.bundle.result import RunResult
from monai_ext.bundle.runner import BundleRunner, run_bundle

__all__ = [
    "SCHEMA_PATH",
    "Bundle",
    "BundleError",
    "BundleExportError",
    "BundleFileError",
    "BundleInputError",
    "BundleRunner",
    "ExportedFiles",
    "RunResult",
    "UntrustedCodeError",
    "WeightsError",
    "example_input",
    "export_bundle",
    "export_onnx",
    "export_torchscript",
    "load_bundle",
    "read_metadata",
    "read_onnx_metadata",
    "run_bundle",
    "verify_weights",
]
