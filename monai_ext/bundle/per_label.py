"""One bundle run per structure of a label map: both adrenal glands of a CT segmentation give two results.

A user's segmentation (a NIfTI/NRRD label map, Slicer's segmentation NRRD, or a DICOM SEG with its CT series)
holds several labels. Each chosen label is cut out as a binary mask on the segmentation's own grid
(:class:`~monai_ext.transforms.SelectLabel`), the bundle runs on it (its preprocessing crops the dataset's cube
around it), and every map comes back on that grid. One label writes its outputs into ``out/``; several write
``out/<label name>/`` each and an index ``out/labels.json``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from monai.data import MetaTensor

from monai_ext.bundle.errors import BundleInputError
from monai_ext.bundle.inputs import InputSource, load_input
from monai_ext.bundle.result import RunResult
from monai_ext.bundle.runner import BundleRunner, Progress
from monai_ext.io.atomic import atomic_write_text
from monai_ext.io.dicom_seg import load_dicom_seg
from monai_ext.io.errors import DicomError
from monai_ext.io.label_names import read_label_names
from monai_ext.transforms.select_label import LabelSelectionError, SelectLabel, label_values, resolve_label

__all__ = [
    "LabelChoice",
    "is_dicom_seg",
    "label_choices",
    "load_label_map",
    "run_bundle_per_label",
    "run_labels",
    "write_label_results",
]


def _quiet(_stage: str, _fraction: float, _message: str) -> None:
    return None


@dataclass(frozen=True)
class LabelChoice:
    """One structure to run on: its value in the label map and a name (the file's, else ``label_<value>``)."""

    value: int
    name: str

    @property
    def folder(self) -> str:
        """A safe folder name for the label's outputs."""
        return re.sub(r"[^A-Za-z0-9._-]+", "_", self.name).strip("._") or f"label_{self.value}"


def is_dicom_seg(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a single DICOM file whose modality is SEG."""
    path = Path(path)
    if not path.is_file() or path.name.lower().endswith((".nii", ".nii.gz", ".nrrd", ".nhdr")):
        return False
    import pydicom

    try:
        return str(pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["Modality"]).Modality) == "SEG"
    except (pydicom.errors.InvalidDicomError, OSError, AttributeError):
        return False


def load_label_map(source: InputSource, *, reference: str | os.PathLike[str] | None = None) -> MetaTensor:
    """Load a label map ``(1, I, J, K)`` with ``meta["label_names"]`` from the file when it stores names.

    Args:
        source: a NIfTI/NRRD label map (Slicer segmentation NRRDs carry segment names), a DICOM SEG file
            (needs ``reference``), or an in-memory volume.
        reference: the CT series folder a DICOM SEG segments; the label map is put onto its grid.

    Raises:
        BundleInputError: unreadable input, or a DICOM SEG without its reference series (names the file).
    """
    if isinstance(source, str | os.PathLike) and is_dicom_seg(source):
        if reference is None:
            raise BundleInputError("a DICOM SEG needs the CT series it segments (--reference FOLDER)", str(source))
        try:
            volume = load_dicom_seg(source, reference)
        except DicomError as err:
            raise BundleInputError(f"cannot read the DICOM SEG ({type(err).__name__}: {err})", str(source)) from err
        label_map = load_input(volume)
        label_map.meta["filename_or_obj"] = str(source)
        label_map.meta["label_names"] = volume.meta["label_names"]
        return label_map
    label_map = load_input(source)
    if isinstance(source, str | os.PathLike):
        label_map.meta["label_names"] = read_label_names(source)
    return label_map


def label_choices(
    label_map: MetaTensor, labels: Sequence[int | str] | None = None, label_names: Mapping[str, int] | None = None
) -> list[LabelChoice]:
    """The structures to run on: ``labels`` (values or names), or every label the map holds.

    Raises:
        BundleInputError: a label is absent or unknown (the message lists the labels present).
    """
    names = dict(label_names or label_map.meta.get("label_names") or {})
    present = label_values(label_map)
    by_value = {int(v): k for k, v in names.items()}
    source = label_map.meta.get("filename_or_obj")
    if not present:
        raise BundleInputError("the input is not a label map with at least one label", source)
    try:
        values = present if not labels else [resolve_label(label, names) for label in labels]
    except LabelSelectionError as err:
        raise BundleInputError(str(err), source) from err
    missing = [v for v in values if v not in present]
    if missing:
        listing = ", ".join(f"{v} ({by_value[v]})" if v in by_value else str(v) for v in present)
        raise BundleInputError(f"label(s) {missing} are not in the label map; it holds {listing}", source)
    return [LabelChoice(value=v, name=by_value.get(v, f"label_{v}")) for v in dict.fromkeys(values)]


def run_labels(
    runner: BundleRunner,
    label_map: MetaTensor,
    choices: Sequence[LabelChoice],
    *,
    target_class: int | None = None,
    progress: Progress = _quiet,
) -> list[tuple[LabelChoice, RunResult]]:
    """Run the bundle once per chosen label; every result's maps lie on the label map's grid and affine."""
    affine = np.asarray(label_map.affine, dtype=np.float64)
    source = str(label_map.meta.get("filename_or_obj", "in-memory label map"))
    results = []
    for index, choice in enumerate(choices, start=1):
        progress("label", (index - 1) / len(choices), f"Label {choice.name} ({index}/{len(choices)})")
        mask = SelectLabel(label=choice.value)(label_map)
        result = runner.run((np.asarray(mask[0]), affine), target_class=target_class, progress=progress)
        result.source = f"{source} [label {choice.value}: {choice.name}]"
        results.append((choice, result))
    return results


def write_label_results(
    results: Sequence[tuple[LabelChoice, RunResult]],
    out_dir: str | os.PathLike[str],
    *,
    runner: BundleRunner,
    montage: bool = True,
) -> dict[str, Any]:
    """Write one label into ``out_dir``, several into ``out_dir/<label>/`` plus ``out_dir/labels.json``.

    Returns:
        The single result's summary, or the index ``{"labels": [{"value", "name", "output_dir", ...summary}]}``.
    """
    from monai_ext.bundle.outputs import write_outputs

    out = Path(out_dir)
    entries = []
    for choice, result in results:
        target = out if len(results) == 1 else out / choice.folder
        summary = write_outputs(result, target, bundle=runner.bundle, heatmap=runner.heatmap, montage=montage)
        entries.append({"value": choice.value, "name": choice.name, "output_dir": str(target.resolve())} | summary)
    if len(entries) == 1:
        return entries[0]
    index = {"labels": entries}
    atomic_write_text(out / "labels.json", json.dumps(index, indent=2) + "\n")
    return index


def run_bundle_per_label(request: dict[str, Any], progress: Progress = _quiet) -> dict[str, Any]:
    """The worker contract for label maps (Slicer's segmentation node exported as a label map, or a DICOM SEG).

    Args:
        request: as :func:`~monai_ext.bundle.runner.run_bundle`, with ``inputPath`` a label map, plus
            ``label`` (one value or name) or ``labels`` (a list; absent: every label), ``labelNames``
            (``{"adrenal_gland_left": 2}``; default: the names stored in the file) and ``referencePath``
            (the CT series folder of a DICOM SEG).
        progress: ``(stage, fraction, message)`` callback.

    Returns:
        One label: its ``result.json`` content (plus ``classNames``/``probabilities``); several: the index.
    """
    progress("bundle", 0.0, f"Loading the bundle {request['bundlePath']}")
    runner = BundleRunner(
        request["bundlePath"],
        trusted=bool(request.get("trusted", False)),
        device=str(request.get("device") or "auto"),
        heatmap=str(request.get("heatmapMethod") or "gradcam"),
        target_layer=request.get("targetLayer"),
    )
    label_map = load_label_map(request["inputPath"], reference=request.get("referencePath"))
    wanted = [request["label"]] if request.get("label") is not None else request.get("labels")
    choices = label_choices(label_map, wanted, request.get("labelNames"))
    results = run_labels(runner, label_map, choices, target_class=request.get("targetClass"), progress=progress)
    progress("write", 0.95, "Writing the outputs")
    summary = write_label_results(results, request["outputDir"], runner=runner)
    if "labels" in summary:
        return summary
    return summary | {"classNames": summary["class_names"], "probabilities": summary["probabilities"]}
