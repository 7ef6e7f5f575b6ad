"""``monai-ext infer``: run a bundle on a volume (NIfTI, NRRD, DICOM folder) or on a folder of them.

One input writes ``OUT/result.json``, one NIfTI per output map (the input's affine) and a PNG montage of
each heatmap; a segmentation output writes its label map, one probability heatmap per segment and the
per-label volumes. Several inputs (``INPUT CHANNEL ...`` or ``--channel NAME=PATH``) are the channels of one
input, resampled onto the first one's grid, in the order the bundle's ``channel_def`` gives. A label map
(``--label``, ``--all-labels``, a DICOM SEG with ``--reference``) runs once per label: one label writes into
``OUT``, several into ``OUT/<label name>/`` with ``OUT/labels.json``; ``--background CT`` (a DICOM SEG's
``--reference`` by default) puts the CT under each label's heatmap montage, the label outlined. A batch
(``--batch``, or a folder holding NIfTI/NRRD files) writes one such folder per input and ``OUT/results.csv``
with one row per input; a failing input gets an error row and the batch goes on.
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

from monai_ext.bundle.errors import BundleError, BundleInputError
from monai_ext.bundle.export.folder import BundleExportError
from monai_ext.bundle.heatmap import HEATMAP_METHODS
from monai_ext.bundle.inputs.channels import channel_names, order_channels
from monai_ext.bundle.outputs.write import write_outputs
from monai_ext.bundle.per_label import (
    is_dicom_seg,
    label_choices,
    load_label_map,
    resolve_background,
    run_labels,
    write_label_results,
)
from monai_ext.bundle.runner import BundleRunner
from monai_ext.cli import infer_dicom
from monai_ext.io.atomic import atomic_write_text
from monai_ext.io.errors import DicomError
from monai_ext.sandbox import ResourceLimits, SandboxPolicy, current_protections, not_sandboxed, run_sandboxed

__all__ = [
    "batch_inputs",
    "input_channels",
    "parse_overrides",
    "register",
    "run_batch",
    "run_in_sandbox",
    "sandbox_policy",
]

VOLUME_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr")


def register(commands: Any) -> None:
    """Add ``infer`` to the command parser."""
    parser = commands.add_parser("infer", help="run a bundle on a volume or a folder of volumes")
    parser.add_argument(
        "input", type=Path, nargs="?", help="NIfTI/NRRD file, DICOM series folder, or a folder of volumes"
    )
    parser.add_argument(
        "more_channels",
        type=Path,
        nargs="*",
        metavar="CHANNEL",
        help="further input channels (e.g. the other MR sequences), in the bundle's channel_def order",
    )
    parser.add_argument(
        "--channel",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="an input channel by its channel_def name (e.g. --channel FLAIR=flair.nii.gz); repeat per channel",
    )
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="set a config value before parsing, e.g. --override 'inferer#roi_size=[64,64,64]' (plain data)",
    )
    parser.add_argument(
        "--explain", action="store_true", help="segmentations: also explain the largest segment (<output>_explain)"
    )
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
    parser.add_argument(
        "--no-sandbox", action="store_true", help="run an untrusted bundle without the kernel sandbox (recorded)"
    )
    parser.add_argument("--max-memory-gb", type=float, default=None, help="sandbox memory cap (default: half the RAM)")
    parser.add_argument(
        "--max-cpu-seconds",
        type=int,
        default=None,
        help="sandbox CPU-time cap, summed over threads (default: 1 h/core)",
    )
    parser.add_argument("--batch", action="store_true", help="treat INPUT as a folder of inputs")
    parser.add_argument("--no-montage", action="store_true", help="skip the PNG montages")
    infer_dicom.add_arguments(parser)
    labels = parser.add_argument_group("label maps (a segmentation as input: one result per label)")
    labels.add_argument(
        "--label", action="append", default=None, metavar="VALUE_OR_NAME", help="label to run on (repeatable)"
    )
    labels.add_argument("--all-labels", action="store_true", help="run on every label of the map: OUT/<label>/")
    labels.add_argument("--label-names", default=None, metavar="JSON", help="names, e.g. '{\"adrenal_gland_left\": 2}'")
    labels.add_argument("--reference", type=Path, default=None, help="the CT series folder of a DICOM SEG input")
    labels.add_argument(
        "--background",
        type=Path,
        default=None,
        metavar="IMAGE",
        help="the image the segmentation was drawn on (the CT: NIfTI/NRRD file or DICOM series folder), shown under "
        "the heatmap in the montages with each label outlined; resampled onto the label map's grid if needed "
        "(default for a DICOM SEG: --reference)",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    """Untrusted bundles run in a sandboxed child process (monai_ext.sandbox); trusted ones and --no-sandbox here.

    The PACS pull before the run and the DICOM results after it (which need the network and ``--dicom-out``)
    happen here in the parent, outside the sandbox: they run none of the bundle's content.
    """
    if args.channel and args.input is None and args.study is None and args.series is None:
        args.input = Path(args.channel[0].partition("=")[2] or ".")  # the named channels replace INPUT
    args.input = infer_dicom.resolve_input(args)
    args.more_channels = [str(p) for p in args.more_channels]
    if args.dicom_out is not None and (args.batch or _holds_volumes(args.input)):
        raise SystemExit("error: --dicom-out works on one input series, not a batch")
    if args.background is not None and (args.batch or _holds_volumes(args.input)):
        raise SystemExit("error: --background goes with one label map input, not a batch")
    if args.trusted or args.no_sandbox:
        reason = "trusted bundle (--trusted): not sandboxed" if args.trusted else "sandbox disabled by --no-sandbox"
        with not_sandboxed(reason):
            code = _run_bundle(args)
    else:
        arguments = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "handler"}
        code = run_sandboxed("monai_ext.cli.infer:run_in_sandbox", arguments, sandbox_policy(args))
    if code == 0 and args.dicom_out is not None:
        summary = json.loads((Path(args.out) / "result.json").read_text(encoding="utf-8"))
        infer_dicom.write_dicom_outputs(args, summary, args.input)
    return code


def run_in_sandbox(arguments: dict[str, Any]) -> int:
    """The sandboxed child's entry point: ``arguments`` are the parsed options; returns the exit code."""
    args = argparse.Namespace(**arguments)
    args.input, args.bundle, args.out = Path(args.input), Path(args.bundle), Path(args.out)
    try:
        return _run_bundle(args)
    except (BundleError, BundleExportError, DicomError) as err:
        print(f"error: {type(err).__name__}: {err}", file=sys.stderr)
        return 2


def sandbox_policy(args: argparse.Namespace) -> SandboxPolicy:
    """Writes only in ``--out``; reads of the system, Python, the bundle and the input (a detached NRRD's folder)."""
    sources = [Path(p).absolute() for p in (args.input, *args.more_channels)]
    sources += [Path(item.partition("=")[2]).absolute() for item in args.channel if item.partition("=")[2]]
    if getattr(args, "reference", None):  # the CT series of a DICOM SEG input
        sources.append(Path(args.reference).absolute())
    if getattr(args, "background", None):  # the CT under a label map, for the montages
        sources.append(Path(args.background).absolute())
    reads = (Path(args.bundle).absolute(), *(s.parent if s.name.lower().endswith(".nhdr") else s for s in sources))
    memory = None if args.max_memory_gb is None else int(args.max_memory_gb * (1 << 30))
    limits = ResourceLimits(memory_bytes=memory, cpu_seconds=args.max_cpu_seconds)
    return SandboxPolicy(write_dirs=(Path(args.out).absolute(),), read_paths=reads, limits=limits)


def _run_bundle(args: argparse.Namespace) -> int:
    for line in current_protections().lines():
        print(line, file=sys.stderr)
    with BundleRunner(
        args.bundle,
        trusted=args.trusted,
        device=args.device,
        heatmap=args.heatmap,
        target_layer=args.target_layer,
        overrides=parse_overrides(args.override),
        explain_segmentation=args.explain,
    ) as runner:
        return _run_with(runner, args)


def _run_with(runner: BundleRunner, args: argparse.Namespace) -> int:
    if not runner.bundle.trusted:
        print(f"{runner.bundle.name}: untrusted bundle, loaded with safe config evaluation", file=sys.stderr)
    spec = runner.bundle.inputs.get("image", {})
    positional = [] if args.channel else [Path(args.input), *(Path(p) for p in args.more_channels)]
    channels = input_channels(positional, args.channel, spec)
    if len(channels) > 1:
        if args.background:
            raise BundleInputError("--background goes with a label map input, not with several channels")
        names = channel_names(spec)
        for index, path in enumerate(channels):
            name = names[index] if index < len(names) else f"channel {index}"
            print(f"channel {index} ({name}): {path}", file=sys.stderr)
        summary = _one(runner, channels, args.out, args.target_class, not args.no_montage, args.feature_maps)
        _print_summary(summary)
        return 0
    args.input = channels[0]
    label_options = (args.label, args.all_labels, args.label_names, args.reference, args.background)
    if any(label_options) or is_dicom_seg(args.input):
        return _labels(runner, args)
    inputs = batch_inputs(args.input) if args.batch or _holds_volumes(args.input) else None
    if inputs is None:
        summary = _one(runner, args.input, args.out, args.target_class, not args.no_montage, args.feature_maps)
        _print_summary(summary)
        return 0
    failures = run_batch(runner, inputs, args.out, target_class=args.target_class, montage=not args.no_montage)
    return 1 if failures == len(inputs) else 0


def input_channels(positional: list[Path], named: list[str], spec: dict[str, Any]) -> list[Path]:
    """The input paths: the positional ones, or the ``NAME=PATH`` channels in ``channel_def`` order.

    Raises:
        BundleInputError: no input, both forms at once, or a malformed or unknown channel.
    """
    if positional and named:
        raise BundleInputError("give the channels either as positional paths or as --channel NAME=PATH, not both")
    if named:
        pairs = {}
        for item in named:
            name, sep, path = item.partition("=")
            if not sep or not name or not path:
                raise BundleInputError(f"--channel {item!r}: expected NAME=PATH")
            pairs[name] = Path(path)
        return [Path(p) for p in order_channels(pairs, spec)]  # type: ignore[arg-type]
    if not positional:
        raise BundleInputError("no input: give a volume (or one per channel) or --channel NAME=PATH")
    return list(positional)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["inferer#roi_size=[64,64,64]"]`` -> ``{"inferer#roi_size": [64, 64, 64]}`` (a value that is not JSON
    stays a string).

    Raises:
        BundleInputError: an item without ``=``.
    """
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise BundleInputError(f"--override {item!r}: expected KEY=VALUE (VALUE in JSON)")
        try:
            overrides[key] = json.loads(text)
        except ValueError:
            overrides[key] = text
    return overrides


def _labels(runner: BundleRunner, args: argparse.Namespace) -> int:
    """A label map (or DICOM SEG): one result per label, ``OUT/<label>/`` when there are several.

    With ``--background`` (or a DICOM SEG's ``--reference``) the montages show each heatmap over that image.
    """
    names = json.loads(args.label_names) if args.label_names else None
    label_map = load_label_map(args.input, reference=args.reference)
    choices = label_choices(label_map, args.label, names)
    background = None
    if not args.no_montage:  # only the montages show it
        background = resolve_background(args.input, label_map, background=args.background, reference=args.reference)
    results = run_labels(runner, label_map, choices, target_class=args.target_class, background=background)
    summary = write_label_results(results, args.out, runner=runner, montage=not args.no_montage)
    for entry in summary.get("labels", [summary]):
        print(f"== label {entry.get('value', choices[0].value)}: {entry.get('name', choices[0].name)}")
        _print_summary(entry)
    return 0


def _one(
    runner: BundleRunner,
    source: Path | list[Path],
    out: Path,
    target_class: int | None,
    montage: bool = True,
    feature_layer: str | None = None,
) -> dict[str, Any]:
    result = runner.run(source, target_class=target_class, feature_layer=feature_layer)  # type: ignore[arg-type]
    return write_outputs(result, out, bundle=runner.bundle, montage=montage)


def _print_summary(summary: dict[str, Any]) -> None:
    if summary["probabilities"]:
        pairs = ", ".join(f"{n} {p:.3f}" for n, p in zip(summary["class_names"], summary["probabilities"], strict=True))
        print(f"predicted: {summary['predicted']} ({pairs})")
    for name, value in summary["scalars"].items():
        print(f"{name}: {value:.4g}")
    for name, segmentation in summary.get("segmentations", {}).items():
        for label in segmentation["labels"]:
            print(f"{name} {label['value']} {label['name']}: {label['voxels']} voxels, {label['volume_mm3']:.1f} mm^3")
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
