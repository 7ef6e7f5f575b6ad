"""``monai-ext demo``: the main job on an embedded example (no data, GPU or network needed).

It writes a small head-phantom CT as a real DICOM series (oblique, shuffled file names, a second MR series
and a non-image file mixed into the same folder), lists the folder like a PACS browser, converts the CT
series to NIfTI, checks the round trip voxel for voxel, and shows that a damaged copy with a missing slice is
refused with a clear error instead of being loaded with wrong geometry.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from monai_ext.data.phantom import head_phantom_hu
from monai_ext.io.dicom.load import load_dicom_series
from monai_ext.io.dicom.scan import scan
from monai_ext.io.dicom.write import write_dicom_series
from monai_ext.io.errors import MissingSliceError
from monai_ext.io.nifti import load_nifti, save_nifti

__all__ = ["example_affine", "register", "run_demo"]


def example_affine(spacing: tuple[float, float, float] = (0.9, 0.9, 2.5), tilt_degrees: float = 8.0) -> np.ndarray:
    """RAS affine of an oblique axial acquisition, rotated ``tilt_degrees`` about the left-right axis."""
    t = np.radians(tilt_degrees)
    rotation = np.array([[-1.0, 0.0, 0.0], [0.0, -np.cos(t), np.sin(t)], [0.0, np.sin(t), np.cos(t)]])
    affine = np.eye(4)
    affine[:3, :3] = rotation * np.asarray(spacing)[None, :]
    affine[:3, 3] = [30.0, 25.0, -40.0]
    return affine


def _write_example(folder: Path, shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, str]:
    phantom = head_phantom_hu(shape)
    affine = example_affine()
    rng = np.random.default_rng(7)
    names = [f"{n:08d}" for n in rng.permutation(shape[2]) * 37 + 1000]
    ct_uid = "1.2.826.0.1.3680043.10.1501.1.1"
    write_dicom_series(phantom, affine, folder / "ct", file_names=names, description="HEAD PHANTOM", series_uid=ct_uid)
    t1 = np.clip(phantom.astype(np.float32) + 1000.0, 0, 2000) / 2.0
    write_dicom_series(t1, affine, folder / "mr", modality="MR", rescale_intercept=0.0, description="T1 PHANTOM")
    (folder / "DICOMDIR.txt").write_text("not a DICOM file: skipped by the scan\n")
    return phantom, affine, ct_uid


def run_demo(out: Path, shape: tuple[int, int, int] = (64, 64, 32)) -> dict[str, Any]:
    """Run the demo into ``out`` and return its summary (also written to ``out/summary.json``)."""
    folder = out / "dicom"
    if folder.exists():
        shutil.rmtree(folder)
    phantom, affine, ct_uid = _write_example(folder, shape)
    result = scan(folder)
    print(f"scanned {folder}: {len(result.series)} series, {len(result.skipped)} file(s) skipped")
    for s in result.series:
        print(
            f"  {s.identity.modality} {s.identity.series_uid} '{s.identity.series_description}' {len(s.headers)} slices"
        )
    for skipped in result.skipped:
        print(f"  skipped {skipped.path.name}: {skipped.reason}")
    volume = load_dicom_series(result, series_uid=ct_uid)
    nifti = save_nifti(volume, out / "ct_phantom.nii.gz")
    back = load_nifti(nifti)
    exact = bool(np.array_equal(back.array, phantom)) and bool(np.allclose(back.affine, affine, atol=1e-4))
    print(f"converted to {nifti}: shape {volume.shape}, {volume.array.dtype}, round trip exact: {exact}")
    damaged = out / "dicom_missing_slice"
    if damaged.exists():
        shutil.rmtree(damaged)
    shutil.copytree(folder / "ct", damaged)
    ordered = volume.meta["source_files"]  # files in slice order: remove an interior one
    victim = damaged / Path(ordered[shape[2] // 2]).name
    victim.unlink()
    try:
        load_dicom_series(damaged)
        refused = "NOT refused"
    except MissingSliceError as err:
        refused = err.problem
    print(f"damaged copy (one interior slice removed) refused: {refused}")
    summary = {
        "series_found": len(result.series),
        "skipped": [s.reason for s in result.skipped],
        "nifti": str(nifti),
        "shape": list(volume.shape),
        "spacing_mm": [round(s, 4) for s in volume.spacing],
        "round_trip_exact": exact,
        "missing_slice_refused": refused,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _run(args: argparse.Namespace) -> int:
    summary = run_demo(Path(args.out))
    return 0 if summary["round_trip_exact"] and summary["missing_slice_refused"] != "NOT refused" else 1


def register(commands: Any) -> None:
    """Add ``demo`` to the command parser."""
    demo = commands.add_parser("demo", help="run the main job on an embedded example (no data needed)")
    demo.add_argument("--out", type=Path, default=Path("demo_output"), help="output folder")
    demo.set_defaults(handler=_run)
