"""Write segmentations as the shared contract says: label map NIfTI, probability heatmaps, ``result.json`` entry.

For output ``pred``: ``pred.nii.gz`` (``"labels"``: ``(I, J, K)`` in the smallest unsigned dtype;
``"multilabel"``: ``(I, J, K, C)`` uint8 0/1), ``pred_prob_<label>.nii.gz`` per segment (uint8 heatmaps with
``value_range`` [0, 1]) and ``pred_explain.nii.gz`` when an explanation was computed. Every file is on the
input's grid and affine and is written atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from monai_ext.bundle.segmentation.labels import slug
from monai_ext.bundle.segmentation.maps import Segmentation, label_statistics, smallest_unsigned
from monai_ext.io.nifti import save_nifti
from monai_ext.io.volume import Volume

__all__ = ["WrittenSegmentations", "write_segmentations"]


@dataclass
class WrittenSegmentations:
    """What :func:`write_segmentations` wrote.

    Attributes:
        segmentations: the ``result.json`` ``"segmentations"`` entry.
        maps: every file written, by map name (absolute paths).
        heatmaps: the names of the heatmaps among them (probabilities, explanations).
        explanations: per explanation map, what it explains.
    """

    segmentations: dict[str, Any] = field(default_factory=dict)
    maps: dict[str, str] = field(default_factory=dict)
    heatmaps: list[str] = field(default_factory=list)
    explanations: dict[str, Any] = field(default_factory=dict)


def write_segmentations(segmentations: dict[str, Segmentation], out: Path) -> WrittenSegmentations:
    """Write every segmentation of a run into ``out``.

    Args:
        segmentations: by output name, each on the input's grid.
        out: the output folder (exists).
    """
    written = WrittenSegmentations()
    for name, segmentation in segmentations.items():
        path = _write_mask(segmentation, out / f"{name}.nii.gz")
        written.maps[name] = path
        labels = label_statistics(segmentation)
        taken = {name}
        for row in labels:
            row["probability_map"] = None
            probability = segmentation.probability(row["value"])
            if probability is None:
                continue
            map_name = _unique(f"{name}_prob_{slug(row['name'])}", taken)
            row["probability_map"] = _write_unit_map(probability, segmentation, out / f"{map_name}.nii.gz")
            written.maps[map_name] = row["probability_map"]
            written.heatmaps.append(map_name)
        if segmentation.explanation is not None:
            map_name = f"{name}_explain"
            path_explain = _write_unit_map(segmentation.explanation[0], segmentation, out / f"{map_name}.nii.gz")
            written.maps[map_name] = path_explain
            written.heatmaps.append(map_name)
            written.explanations[map_name] = dict(segmentation.explained)
        written.segmentations[name] = {"path": path, "kind": segmentation.spec.kind, "labels": labels}
    return written


def _write_mask(segmentation: Segmentation, path: Path) -> str:
    mask = segmentation.mask.as_tensor().numpy()
    affine = np.asarray(segmentation.mask.affine, dtype=np.float64)
    if segmentation.spec.kind == "multilabel":
        array = np.moveaxis(mask, 0, -1).astype(np.uint8)  # (I, J, K, C)
    else:
        array = mask[0].astype(smallest_unsigned(int(mask.max()) if mask.size else 0))
    return str(save_nifti(Volume(array=array, affine=affine), path, sidecar=False).resolve())


def _write_unit_map(values: Any, segmentation: Segmentation, path: Path) -> str:
    array = np.clip(np.asarray(values, dtype=np.float32), 0.0, 1.0)
    affine = np.asarray(segmentation.mask.affine, dtype=np.float64)
    volume = Volume(array=array, affine=affine)
    return str(save_nifti(volume, path, sidecar=False, unit_range_uint8=True).resolve())


def _unique(name: str, taken: set[str]) -> str:
    candidate, index = name, 2
    while candidate in taken:
        candidate, index = f"{name}_{index}", index + 1
    taken.add(candidate)
    return candidate
