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
import torch
from monai.data import MetaTensor

from monai_ext.bundle.errors import BundleInputError
from monai_ext.bundle.inputs.background import load_background
from monai_ext.bundle.inputs.source import InputSource, load_input
from monai_ext.bundle.result import RunResult
from monai_ext.bundle.runner import BundleRunner, Progress, runner_from_request
from monai_ext.io.atomic import atomic_write_text
from monai_ext.io.dicom_seg import load_dicom_seg
from monai_ext.io.errors import DicomError
from monai_ext.io.label_names import read_label_names
from monai_ext.transforms.masks.select_label import LabelSelectionError, SelectLabel, label_values, resolve_label
from monai_ext.transforms.spatial.centred_cube import CentredCubed

__all__ = [
    "LabelChoice",
    "cube_reach",
    "is_dicom_seg",
    "label_choices",
    "load_label_map",
    "resolve_background",
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


def resolve_background(
    source: InputSource,
    label_map: MetaTensor,
    *,
    background: InputSource | None = None,
    reference: str | os.PathLike[str] | None = None,
) -> MetaTensor | None:
    """The image the label map was drawn on, on the label map's grid, or ``None`` without one.

    Args:
        source: the label map's source (a DICOM SEG defaults its background to ``reference``).
        label_map: from :func:`load_label_map`.
        background: a NIfTI/NRRD file or DICOM series folder (the CT), resampled onto the label map's grid when
            its grid differs.
        reference: the CT series folder of a DICOM SEG.

    Raises:
        BundleInputError: an unreadable background, or one that does not overlap the label map (names both).
    """
    if background is None and reference is not None and isinstance(source, str | os.PathLike):
        background = reference if is_dicom_seg(source) else None
    return None if background is None else load_background(background, label_map)


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
    reach_mm: float | None = -1.0,
    background: MetaTensor | None = None,
    progress: Progress = _quiet,
) -> list[tuple[LabelChoice, RunResult]]:
    """Run the bundle once per chosen label; every result's maps lie on the label map's grid and affine.

    Args:
        runner: the bundle.
        label_map: ``(1, I, J, K)`` with its affine.
        choices: from :func:`label_choices`.
        target_class: the class the heatmap explains (default: the predicted one).
        reach_mm: the bundle reads only this far (mm, along R, A and S) from the label's centre of mass: it runs
            on that window and its maps are zero-padded onto the full grid, the same result at a fraction of the
            cost. Default (``-1``): the reach of the bundle's :class:`~monai_ext.transforms.CentredCubed` (plus
            4 mm), or the whole grid when its preprocessing has none; ``None``: the whole grid.
        background: the image the label map was drawn on, on its grid (:func:`resolve_background`); the
            montages then show each heatmap over it with the label outlined. The bundle never sees it.
        progress: ``(stage, fraction, message)`` callback.
    """
    affine = np.asarray(label_map.affine, dtype=np.float64)
    source = str(label_map.meta.get("filename_or_obj", "in-memory label map"))
    reach_mm = cube_reach(runner) if reach_mm == -1.0 else reach_mm
    results = []
    for index, choice in enumerate(choices, start=1):
        progress("label", (index - 1) / len(choices), f"Label {choice.name} ({index}/{len(choices)})")
        mask = np.asarray(SelectLabel(label=choice.value)(label_map)[0])
        window = _window(mask, affine, reach_mm)
        crop_affine = affine.copy()
        crop_affine[:3, 3] = affine[:3, :3] @ np.array([w.start for w in window]) + affine[:3, 3]
        result = runner.run((mask[window], crop_affine), target_class=target_class, progress=progress)
        result.image = MetaTensor(torch.from_numpy(mask)[None], affine=torch.as_tensor(affine))
        result.maps = {name: _uncrop(m, window, mask.shape, affine) for name, m in result.maps.items()}
        result.source = f"{source} [label {choice.value}: {choice.name}]"
        result.background, result.structure = background, choice.name
        results.append((choice, result))
    return results


def cube_reach(runner: BundleRunner) -> float | None:
    """How far (mm) from the centre of mass the bundle's cube reaches, plus 4 mm; ``None`` without a cube."""
    steps = getattr(runner.preprocessing, "transforms", ())
    cubes = [c for t in steps if isinstance(t, CentredCubed) for c in t.transforms.values()]
    if not cubes or len(cubes) != sum(len(t.transforms) for t in steps if isinstance(t, CentredCubed)):
        return None
    reach = 0.0
    for cube in cubes:
        for n, c, step in zip(cube.spatial_size, cube.centre_voxel, cube.spacing, strict=True):
            reach = max(reach, (max(c, n - 1 - c) + 1) * step)
    return reach + 4.0


def _window(mask: np.ndarray, affine: np.ndarray, reach_mm: float | None) -> tuple[slice, slice, slice]:
    """The voxels within ``reach_mm`` of the label's centre of mass (along R, A, S), plus the label itself.

    The bundle only reads the cube around the centre of mass, so running on this window and padding the maps
    with zeros gives the full-grid result exactly, at a fraction of the cost on a 512 x 512 x 300 CT.
    """
    full = tuple(slice(0, n) for n in mask.shape)
    index = np.argwhere(mask > 0)
    if reach_mm is None or not len(index):
        return full  # type: ignore[return-value]
    centre = affine[:3, :3] @ index.mean(axis=0) + affine[:3, 3]
    corners = np.array(np.meshgrid(*[[-reach_mm, reach_mm]] * 3, indexing="ij")).reshape(3, -1).T + centre
    voxels = (np.linalg.inv(affine) @ np.c_[corners, np.ones(8)].T)[:3].T
    low = np.minimum(np.floor(voxels.min(axis=0)) - 2, index.min(axis=0)).astype(int)
    high = np.maximum(np.ceil(voxels.max(axis=0)) + 3, index.max(axis=0) + 1).astype(int)
    low, high = np.maximum(low, 0), np.minimum(high, mask.shape)
    return (slice(low[0], high[0]), slice(low[1], high[1]), slice(low[2], high[2]))


def _uncrop(volume: MetaTensor, window: tuple[slice, ...], shape: tuple[int, ...], affine: np.ndarray) -> MetaTensor:
    """A map of the window, zero-padded back onto the full grid."""
    data = torch.zeros((volume.shape[0], *shape), dtype=volume.dtype)
    data[(slice(None), *window)] = volume.as_tensor()
    return MetaTensor(data, affine=torch.as_tensor(affine))


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
    from monai_ext.bundle.outputs.write import write_outputs

    out = Path(out_dir)
    entries = []
    for choice, result in results:
        target = out if len(results) == 1 else out / choice.folder
        summary = write_outputs(result, target, bundle=runner.bundle, montage=montage)
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
            (the CT series folder of a DICOM SEG), ``backgroundPath`` (the image the label map was drawn on,
            a NIfTI/NRRD file or DICOM series folder, for the montages; default: ``referencePath`` for a DICOM SEG).
        progress: ``(stage, fraction, message)`` callback.

    Returns:
        One label: its ``result.json`` content (plus ``classNames``/``probabilities``); several: the index.
    """
    progress("bundle", 0.0, f"Loading the bundle {request['bundlePath']}")
    with runner_from_request(request) as runner:
        reference = request.get("referencePath")
        label_map = load_label_map(request["inputPath"], reference=reference)
        wanted = [request["label"]] if request.get("label") is not None else request.get("labels")
        choices = label_choices(label_map, wanted, request.get("labelNames"))
        background = resolve_background(
            request["inputPath"], label_map, background=request.get("backgroundPath"), reference=reference
        )
        target = request.get("targetClass")
        results = run_labels(runner, label_map, choices, target_class=target, background=background, progress=progress)
        progress("write", 0.95, "Writing the outputs")
        summary = write_label_results(results, request["outputDir"], runner=runner)
    if "labels" in summary:
        return summary
    return summary | {"classNames": summary["class_names"], "probabilities": summary["probabilities"]}
