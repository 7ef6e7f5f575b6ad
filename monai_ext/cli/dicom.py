"""``monai-ext dicom ls`` and ``monai-ext dicom convert``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from monai_ext.io.dicom.load import load_dicom_series
from monai_ext.io.dicom.planning.plan import plan_volume
from monai_ext.io.dicom.planning.stack import split_stacks
from monai_ext.io.dicom.scan import ScannedSeries, scan
from monai_ext.io.diffusion import bval_bvec_paths
from monai_ext.io.errors import DicomError

__all__ = ["describe_series", "register"]


def describe_series(series: ScannedSeries, *, resample: bool = False) -> dict[str, Any]:
    """Listing entry of one series: identity, size, geometry and every problem found (no pixels read)."""
    ident = series.identity
    entry: dict[str, Any] = {
        "patient_id": ident.patient_id,
        "patient_name": ident.patient_name,
        "study_uid": ident.study_uid,
        "study_date": ident.study_date,
        "study_description": ident.study_description,
        "series_uid": ident.series_uid,
        "series_number": ident.series_number,
        "modality": ident.modality,
        "description": ident.series_description,
        "manufacturer": ident.manufacturer,
        "n_files": len(series.files),
        "n_slices": len(series.headers),
        "shape": None,
        "spacing": None,
        "stacks": [],
        "problems": [],
        "loadable": False,
    }
    try:
        entry["stacks"] = [s.label for s in split_stacks(series.headers)]
        plan = plan_volume(series, resample=resample)
    except DicomError as err:
        entry["problems"].append(f"{type(err).__name__}: {err.problem}")
        return entry
    entry.update(
        n_slices=len(plan.stacks[0]),
        shape=list(plan.shape),
        spacing=[round(v, 5) for v in plan.voxel_size],
        volume_axis=plan.frame_axis[0] if plan.frame_axis else None,
        problems=list(plan.problems),
        loadable=True,
    )
    b_values = [next((h.b_value for h in s if h.b_value is not None), None) for s in plan.stacks]
    if any(b is not None for b in b_values):
        entry["b_values"] = [0.0 if b is None else b for b in b_values]
    return entry


def _print_table(entries: list[dict[str, Any]], skipped: list[dict[str, str]]) -> None:
    for e in entries:
        shape = "x".join(str(s) for s in e["shape"]) if e["shape"] else "-"
        spacing = "x".join(f"{s:g}" for s in e["spacing"]) if e["spacing"] else "-"
        print(f"{e['modality']:<3} {e['series_uid']}")
        print(
            f"    patient {e['patient_id'] or '-'} | study {e['study_date'] or '-'} "
            f"{e['study_description'] or ''} | series #{e['series_number']} '{e['description']}'"
        )
        print(f"    {e['n_slices']} slices from {e['n_files']} files | size {shape} | spacing {spacing} mm")
        if e.get("volume_axis"):
            print(
                f"    volumes by {e['volume_axis']}" + (" (diffusion: b-values in --json)" if "b_values" in e else "")
            )
        if len(e["stacks"]) > 1 and not e.get("volume_axis"):
            print("    stacks: " + "; ".join(f"[{i}] {s}" for i, s in enumerate(e["stacks"])))
        for problem in e["problems"]:
            print(f"    problem: {problem}")
    for s in skipped:
        print(f"skipped {s['path']}: {s['reason']}")


def _ls(args: argparse.Namespace) -> int:
    result = scan(Path(args.folder))
    entries = [describe_series(s, resample=args.resample) for s in result.series]
    for entry in entries:
        refused = [s for s in result.skipped if s.series_uid and s.series_uid == entry["series_uid"]]
        if refused:
            entry["problems"].append(f"{len(refused)} file(s) of this series cannot be used: {refused[0].reason}")
            entry["loadable"] = False
    skipped = [{"path": str(s.path), "reason": s.reason} for s in result.skipped]
    if args.json:
        print(json.dumps({"folder": str(args.folder), "series": entries, "skipped": skipped}, indent=2))
    else:
        _print_table(entries, skipped)
    return 0


def _convert(args: argparse.Namespace) -> int:
    from monai_ext.io.nifti import save_nifti, sidecar_path  # nibabel: only when writing

    volume = load_dicom_series(
        Path(args.folder),
        series_uid=args.series,
        stack=args.stack,
        resample=args.resample,
        allow_unreadable=args.allow_unreadable,
    )
    out = save_nifti(volume, args.output, sidecar=not args.no_sidecar)
    shape = "x".join(str(s) for s in volume.shape)
    print(f"wrote {out} ({shape}, {volume.array.dtype}, spacing {', '.join(f'{s:.4g}' for s in volume.spacing)} mm)")
    if not args.no_sidecar:
        print(f"wrote {sidecar_path(out)}")
    if "b_values" in volume.meta and volume.array.ndim == 4:
        print("wrote " + " and ".join(str(p) for p in bval_bvec_paths(out)) + " (FSL convention)")
    for problem in volume.meta.get("problems", []):
        print(f"note: {problem}")
    return 0


def register(commands: Any) -> None:
    """Add ``dicom ls`` and ``dicom convert`` to the command parser."""
    dicom = commands.add_parser("dicom", help="list and convert DICOM series")
    sub = dicom.add_subparsers(dest="dicom_command", required=True)
    ls = sub.add_parser("ls", help="list every image series in a folder tree, with problems found")
    ls.add_argument("folder", type=Path)
    ls.add_argument("--json", action="store_true", help="print one JSON object with a 'series' list")
    ls.add_argument("--resample", action="store_true", help="report series as they would load with --resample")
    ls.set_defaults(handler=_ls)
    convert = sub.add_parser("convert", help="convert one series to NIfTI (RAS affine, real-world values)")
    convert.add_argument("folder", type=Path)
    convert.add_argument("output", type=Path, help="output .nii or .nii.gz (written atomically)")
    convert.add_argument("--series", default=None, help="SeriesInstanceUID to convert when there are several")
    convert.add_argument("--stack", type=int, default=None, help="stack index when a series holds several")
    convert.add_argument("--resample", action="store_true", help="interpolate missing slices / remove gantry tilt")
    convert.add_argument("--allow-unreadable", action="store_true", help="ignore corrupt files in the folder")
    convert.add_argument("--no-sidecar", action="store_true", help="do not write the JSON sidecar")
    convert.set_defaults(handler=_convert)
