"""The Slicer worker (a real subprocess) answers a hostile bundle with one typed error line, and writes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib

from tests.bundle.conftest import AUTOENCODER, copy_bundle, ellipsoid_mask, oblique_affine

REPO = Path(__file__).resolve().parents[3]
WORKER = REPO / "slicer_module" / "MonaiBundleExplorer" / "MonaiBundleExplorerLib" / "workerProcess" / "worker.py"


def test_metadata_only_output_name_edit_is_a_typed_error_line(tmp_path: Path) -> None:
    """The attack that wrote outside the output folder through the worker: a renamed output in metadata.json."""
    bundle = copy_bundle(AUTOENCODER, tmp_path / "bundle")
    metadata_path = bundle / "configs" / "metadata.json"
    metadata = json.loads(metadata_path.read_text())
    outputs = metadata["network_data_format"]["outputs"]
    outputs["../../escaped"] = outputs.pop("anomaly_map")
    metadata_path.write_text(json.dumps(metadata))
    volume = tmp_path / "input.nii.gz"
    nib.save(nib.Nifti1Image(ellipsoid_mask((20, 24, 18), (6.0, 8.0, 5.0)), oblique_affine((1.0, 1.0, 1.5))), volume)
    request = tmp_path / "request.json"
    out = tmp_path / "deep" / "out"
    request.write_text(json.dumps({"bundlePath": str(bundle), "inputPath": str(volume), "outputDir": str(out),
                                   "device": "cpu"}))  # fmt: skip
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(WORKER), str(request)], capture_output=True, text=True, env=env,
                          timeout=180, check=False)  # fmt: skip
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 1
    errors = [line["error"] for line in lines if "error" in line]
    assert len(errors) == 1 and errors[0] is lines[-1]["error"]
    assert errors[0]["type"] == "BundleFileError"
    assert str(metadata_path) in errors[0]["message"] and "'../../escaped'" in errors[0]["message"]
    assert not list(tmp_path.rglob("escaped*"))
