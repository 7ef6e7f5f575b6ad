"""Write a run's results (``result.json`` content) as DICOM objects referencing the source series.

- every entry of ``"segmentations"`` (the shared segmentation contract) -> one DICOM SEG;
- every heatmap of ``"heatmaps"`` -> a Parametric Map, and with ``threshold`` also a SEG of
  ``heatmap >= threshold`` (not for a segmentation's per-label probability maps);
- class probabilities and the volumes of the SEG segments -> one Comprehensive 3D SR (TID 1500).

Each file is written atomically as ``<out>/<name>.dcm``; ``<out>/dicom_results.json`` lists them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from monai_ext.dicom_results.equipment import Algorithm
from monai_ext.dicom_results.errors import DicomResultError
from monai_ext.dicom_results.parametric_map import parametric_map
from monai_ext.dicom_results.report import SegmentVolume, measurement_report
from monai_ext.dicom_results.segmentation import Segment, heatmap_segmentation, segmentation
from monai_ext.dicom_results.source import SourceSeries, read_source_series
from monai_ext.io.atomic import atomic_path, atomic_write_text
from monai_ext.io.errors import DicomError
from monai_ext.io.nifti import load_nifti

__all__ = ["DicomResults", "write_dataset", "write_dicom_results"]

_PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180)]


@dataclass
class DicomResults:
    """What was written.

    Attributes:
        files: object name -> path (``<output>_seg``, ``<heatmap>_pmap``, ``<heatmap>_seg``, ``report_sr``).
        warnings: results that could not be written as DICOM, and why.
    """

    files: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def write_dataset(ds: Dataset, path: str | os.PathLike[str]) -> Path:
    """Write a DICOM dataset (with its file meta) atomically."""
    with atomic_path(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return Path(path)


def write_dicom_results(
    summary: Mapping[str, Any],
    source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | SourceSeries,
    out_dir: str | os.PathLike[str],
    *,
    threshold: float | None = 0.5,
) -> DicomResults:
    """Write SEG, parametric maps and an SR for a run.

    Args:
        summary: ``result.json``'s content (``write_outputs``' return value): ``maps``, ``heatmaps``,
            ``segmentations``, ``class_names``, ``probabilities`` and ``bundle``.
        source: the DICOM series the run read (folder or files), or a :class:`SourceSeries`.
        out_dir: created if needed.
        threshold: also write each heatmap thresholded at this level as a SEG (``None``: do not).

    Returns:
        The files written, and warnings for results skipped (e.g. an empty thresholded heatmap).

    Raises:
        DicomResultError: the source cannot carry DICOM results, or a map is not on its grid.
    """
    series = source if isinstance(source, SourceSeries) else read_source_series(source)
    bundle = summary.get("bundle") or {}
    algorithm = Algorithm(
        name=str(bundle.get("name") or "monai-ext bundle"),
        version=str(bundle.get("version") or "0"),
        weights_sha256=str(bundle.get("weights_sha256") or ""),
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = DicomResults(warnings=list(series.warnings))
    volumes: list[SegmentVolume] = []
    number = 900
    for name, entry in (summary.get("segmentations") or {}).items():
        number += 1
        seg, segments = _contract_seg(name, entry, series, algorithm, number)
        results.files[f"{name}_seg"] = str(write_dataset(seg, out / f"{name}_seg.dcm"))
        volumes += [
            SegmentVolume(seg=seg, segment_number=i, name=s.name, volume_mm3=v)
            for i, (s, v) in enumerate(segments, start=1)
        ]
    # Per-label probability maps of a segmentation are heatmaps too: each gets a parametric map, but no
    # thresholded SEG (the segmentation's own SEG already holds that label).
    probability_maps = {
        str(Path(label["probability_map"]).resolve())
        for entry in (summary.get("segmentations") or {}).values()
        for label in entry.get("labels") or []
        if label.get("probability_map")
    }
    for name in summary.get("heatmaps") or []:
        values = _map_on_grid(summary, name, series)
        title = _heatmap_title(summary, name)
        number += 1
        pmap = parametric_map(
            values, series, name=name, algorithm=algorithm, value_range=(0.0, 1.0), series_number=number,
            description=title,
        )  # fmt: skip
        results.files[f"{name}_pmap"] = str(write_dataset(pmap, out / f"{name}_pmap.dcm"))
        path = str(Path((summary.get("maps") or {})[name]).resolve())
        if threshold is not None and path not in probability_maps:
            number += 1
            try:
                seg = heatmap_segmentation(
                    values, series, threshold=threshold, name=title, algorithm=algorithm, series_number=number
                )
            except DicomResultError as err:
                results.warnings.append(f"{name}: no SEG ({err.problem})")
                continue
            results.files[f"{name}_seg"] = str(write_dataset(seg, out / f"{name}_seg.dcm"))
    if summary.get("probabilities") or volumes:
        number += 1
        report = measurement_report(
            series,
            algorithm=algorithm,
            class_names=list(summary.get("class_names") or []),
            probabilities=list(summary.get("probabilities") or []),
            volumes=volumes,
            series_number=number,
        )
        results.files["report_sr"] = str(write_dataset(report, out / "report_sr.dcm"))
    listing = {"source_series": series.series_uid, "files": results.files, "warnings": results.warnings}
    atomic_write_text(out / "dicom_results.json", json.dumps(listing, indent=2) + "\n")
    return results


def _heatmap_title(summary: Mapping[str, Any], name: str) -> str:
    """``"heatmap (occlusion)"``: the classifier's heatmap names the method that made it (a fallback may change it)."""
    method = summary.get("heatmap_method") if name == "heatmap" else None
    return f"{name} ({method})" if isinstance(method, str) and method else name


def _load(path: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        volume = load_nifti(path)
    except DicomError as err:
        raise DicomResultError(f"{name}: cannot read {path} ({err.problem})", [path]) from err
    return np.asarray(volume.array), volume.affine


def _map_on_grid(summary: Mapping[str, Any], name: str, series: SourceSeries) -> np.ndarray:
    path = (summary.get("maps") or {}).get(name)
    if not path:
        raise DicomResultError(f"heatmap {name!r} has no file in 'maps'")
    array, affine = _load(path, name)
    array = array[..., 0] if array.ndim == 4 and array.shape[-1] == 1 else array
    if array.ndim != 3:
        raise DicomResultError(f"heatmap {name!r}: expected a 3D map, got shape {array.shape}", [path])
    series.check_grid(array, affine, name)
    return array.astype(np.float32)


def _contract_seg(
    name: str, entry: Mapping[str, Any], series: SourceSeries, algorithm: Algorithm, number: int
) -> tuple[Dataset, list[tuple[Segment, float]]]:
    kind = str(entry.get("kind", "labels"))
    array, affine = _load(str(entry["path"]), name)
    series.check_grid(array, affine, name)
    labels = [item for item in entry.get("labels") or [] if int(item.get("voxels", 1)) > 0]
    segments = [
        Segment(
            value=int(item["value"]),
            name=str(item.get("name") or f"label {item['value']}"),
            color=tuple(int(c) for c in (item.get("color") or _PALETTE[i % len(_PALETTE)]))[:3],  # type: ignore[arg-type]
        )
        for i, item in enumerate(labels)
    ]
    seg = segmentation(array, series, segments, algorithm=algorithm, kind=kind, series_number=number, description=name)
    voxel = series.voxel_volume_mm3
    sized = []
    for segment, item in zip(segments, labels, strict=True):
        mask = array == segment.value if kind == "labels" else array[..., segment.value] > 0
        sized.append((segment, float(item.get("volume_mm3") or int(mask.sum()) * voxel)))
    return seg, sized
