"""``monai-ext infer``: run a bundle on a volume (NIfTI, NRRD, DICOM folder) or on a folder of them.

One input writes ``OUT/result.json``, one NIfTI per output map (the input's affine) and a PNG montage of
each heatmap. A label map (``--label``, ``--all-labels``, a DICOM SEG with ``--reference``) runs once per label:
one label writes into ``OUT``, several into ``OUT/<label name>/`` with ``OUT/labels.json``. A batch (``--batch``,
or a folder holding NIfTI/NRRD files) writes one folder per input and ``OUT/results.csv`` with one row per input;
a failing input gets an error row and the batch goes on.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

from monai_ext.bundle.errors import BundleError
from monai_ext.bundle.heatmap import HEATMAP_METHODS
from monai_ext.bundle.outputs import write_outputs
from monai_ext.bundle.per_label import is_dicom_seg, label_choices, load_label_map, run_labels, write_label_results
from monai_ext.bundle.runner import BundleRunner
from monai_ext.io.atomic import atomic_write_text

__all__ = ["batch_inputs", "register", "run_batch"]

VOLUME_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr")


def register(commands: Any) -> None:
    """Add ``infer`` to the command parser."""
    parser = commands.add_parser("infer", help="run a bundle on a volume or a folder of volumes")
    parser.add_argument("input", type=Path, help="NIfTI/NRRD file, DICOM series folder, or a folder of volumes")
    parser.add_argument("--bundle", type=Path, required=True, help="bundle folder or .zip")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--heatmap", choices=HEATMAP_METHODS, default="gradcam", help="classifier heatmap method")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--target-class", type=int, default=None, help="class to explain (default: predicted)")
    parser.add_argument("--target-layer", default=None, help="Grad-CAM layer (default: the bundle's, else auto)")
    parser.add_argument(
        "--feature-maps", default=None, metavar="LAYER", help="also write LAYER's activations (one input)"
    )
    parser.add_argument("--trusted", action="store_true", help="let the bundle's config run code (only your own)")
    parser.add_argument("--batch", action="store_true", help="treat INPUT as a folder of inputs")
    parser.add_argument("--no-montage", action="store_true", help="skip the PNG montages")
    labels = parser.add_argument_group("label maps (a segmentation as input: one result per label)")
    labels.add_argument(
        "--label", action="append", default=None, metavar="VALUE_OR_NAME", help="label to run on (repeatable)"
    )
    labels.add_argument("--all-labels", action="store_true", help="run on every label of the map: OUT/<label>/")
    labels.add_argument("--label-names", default=None, metavar="JSON", help="names, e.g. '{\"adrenal_gland_left\": 2}'")
    labels.add_argument("--reference", type=Path, default=None, help="the CT series folder of a DICOM SEG input")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    with BundleRunner(
        args.bundle, trusted=args.trusted, device=args.device, heatmap=args.heatmap, target_layer=args.target_layer
    ) as runner:
        return _run_with(runner, args)


def _run_with(runner: BundleRunner, args: argparse.Namespace) -> int:
    if not runner.bundle.trusted:
        print(f"{runner.bundle.name}: untrusted bundle, loaded with safe config evaluation", file=sys.stderr)
    if args.label or args.all_labels or args.label_names or args.reference or is_dicom_seg(args.input):
        return _labels(runner, args)
    inputs = batch_inputs(args.input) if args.batch or _holds_volumes(args.input) else None
    if inputs is None:
        summary = _one(runner, args.input, args.out, args.target_class, not args.no_montage, args.feature_maps)
        _print_summary(summary)
        return 0
    failures = run_batch(runner, inputs, args.out, target_class=args.target_class, montage=not args.no_montage)
    return 1 if failures == len(inputs) else 0


def _labels(runner: BundleRunner, args: argparse.Namespace) -> int:
    """A label map (or DICOM SEG): one result per label, ``OUT/<label>/`` when there are several."""
    names = json.loads(args.label_names) if args.label_names else None
    label_map = load_label_map(args.input, reference=args.reference)
    choices = label_choices(label_map, args.label, names)
    results = run_labels(runner, label_map, choices, target_class=args.target_class)
    summary = write_label_results(results, args.out, runner=runner, montage=not args.no_montage)
    for entry in summary.get("labels", [summary]):
        print(f"== label {entry.get('value', choices[0].value)}: {entry.get('name', choices[0].name)}")
        _print_summary(entry)
    return 0


def _one(
    runner: BundleRunner,
    source: Path,
    out: Path,
    target_class: int | None,
    montage: bool = True,
    feature_layer: str | None = None,
) -> dict[str, Any]:
    result = runner.run(source, target_class=target_class, feature_layer=feature_layer)
    return write_outputs(result, out, bundle=runner.bundle, heatmap=runner.heatmap, montage=montage)


def _print_summary(summary: dict[str, Any]) -> None:
    if summary["probabilities"]:
        pairs = ", ".join(f"{n} {p:.3f}" for n, p in zip(summary["class_names"], summary["probabilities"], strict=True))
        print(f"predicted: {summary['predicted']} ({pairs})")
    for name, value in summary["scalars"].items():
        print(f"{name}: {value:.4g}")
    for name, path in summary["maps"].items():
        print(f"wrote {name}: {path}")
    for name, path in summary["montages"].items():
        print(f"wrote {name} montage: {path}")
    print(f"timings (s): {summary['timings']}")
    for warning in summary["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)


def _holds_volumes(path: Path) -> bool:
    return path.is_dir() and any(p.name.lower().endswith(VOLUME_SUFFIXES) for p in path.iterdir())


def batch_inputs(folder: Path) -> list[Path]:
    """The inputs of a batch folder: its NIfTI/NRRD files and its sub-folders (DICOM series), sorted."""
    if not folder.is_dir():
        raise BundleError("a batch input must be a folder", folder)
    found = [p for p in folder.iterdir() if p.is_dir() or p.name.lower().endswith(VOLUME_SUFFIXES)]
    if not found:
        raise BundleError("no NIfTI/NRRD files or DICOM sub-folders to run on", folder)
    return sorted(found)


def run_batch(
    runner: BundleRunner, inputs: list[Path], out: Path, *, target_class: int | None = None, montage: bool = True
) -> int:
    """Run every input into ``out/<name>/`` and write ``out/results.csv``; returns the number of failures."""
    rows: list[dict[str, Any]] = []
    for index, source in enumerate(inputs, start=1):
        start = time.perf_counter()
        name = source.name.removesuffix(".gz").rsplit(".", 1)[0] if source.is_file() else source.name
        try:
            summary = _one(runner, source, out / name, target_class, montage)
            rows.append(_row(source, summary, time.perf_counter() - start))
            print(f"[{index}/{len(inputs)}] {source.name}: {summary['predicted'] or 'done'}", file=sys.stderr)
        except (BundleError, OSError, ValueError, RuntimeError) as err:
            rows.append({"input": str(source), "status": "error", "error": f"{type(err).__name__}: {err}"})
            print(f"[{index}/{len(inputs)}] {source.name}: FAILED {err}", file=sys.stderr)
    atomic_write_text(out / "results.csv", _csv(rows))
    print(f"wrote {out / 'results.csv'} ({len(rows)} rows)")
    return sum(row["status"] == "error" for row in rows)


def _row(source: Path, summary: dict[str, Any], seconds: float) -> dict[str, Any]:
    row: dict[str, Any] = {"input": str(source), "status": "ok", "predicted": summary["predicted"] or ""}
    row |= {f"p_{n}": f"{p:.6f}" for n, p in zip(summary["class_names"], summary["probabilities"], strict=True)}
    row |= {k: f"{v:.6g}" for k, v in summary["scalars"].items()}
    row |= {f"map_{k}": v for k, v in summary["maps"].items()}
    return row | {"seconds": f"{seconds:.3f}", "error": ""}


def _csv(rows: list[dict[str, Any]]) -> str:
    header: list[str] = []
    for row in rows:
        header += [key for key in row if key not in header]
    header = [h for h in header if h != "error"] + ["error"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, restval="")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
