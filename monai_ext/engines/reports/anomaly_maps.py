"""Autoencoder inference output: reconstruction and anomaly map per case, in the input volume's grid.

:func:`inference_cases` loads cases like :func:`monai_ext.data.load_cases` (same preprocessing) and keeps
each input's voxel grid (``original_shape``, ``original_affine``); :class:`AnomalyMapWriter` maps the
network-grid results back with :func:`to_input_grid` and writes NIfTI files with the input's affine.
A MedMNIST ``.npz`` has no geometry: its cases get an identity affine (1 mm voxels).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events
from monai.data import Dataset, MetaTensor
from monai.transforms import EnsureChannelFirst, LoadImage, Orientation

from monai_ext.data.cases import preprocess_array
from monai_ext.data.datalist import load_datalist
from monai_ext.data.npz import DatasetError, load_npz_split
from monai_ext.io.atomic import atomic_write_text
from monai_ext.io.monai_reader import DicomSeriesReader
from monai_ext.io.nifti import save_nifti
from monai_ext.io.volume import Volume
from monai_ext.transforms.anomaly_outputs import AnomalyOutputs
from monai_ext.transforms.spatial.resize import ResizeToShape

__all__ = ["AnomalyMapWriter", "inference_cases", "to_input_grid"]

_IMAGE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".mha", ".mhd")


def to_input_grid(
    values: torch.Tensor, *, original_shape: Sequence[int], original_affine: np.ndarray | torch.Tensor
) -> np.ndarray:
    """Bring a network-grid volume back to the voxel grid of the input it was computed from.

    Undoes the preprocessing of :func:`inference_cases` for files: the resize (trilinear, the field of
    view is kept) and the reorientation to RAS.

    Args:
        values: ``(C, *spatial)`` in the network grid (RAS-oriented for file inputs).
        original_shape: the input's spatial shape ``(I, J, K)``.
        original_affine: the input's ``(4, 4)`` voxel-to-RAS-mm affine.

    Returns:
        ``(C, I, J, K)`` float32 in the input's voxel order.
    """
    affine = torch.as_tensor(np.asarray(original_affine, dtype=np.float64))
    orientation = Orientation(axcodes="RAS")
    reference: Any = orientation(MetaTensor(torch.zeros(1, *[int(s) for s in original_shape]), affine=affine))
    ras_shape = tuple(reference.shape[1:])
    resized = torch.as_tensor(values, dtype=torch.float32).as_subclass(torch.Tensor)
    if tuple(resized.shape[1:]) != ras_shape:
        resized = torch.as_tensor(ResizeToShape(spatial_size=ras_shape)(resized)).as_subclass(torch.Tensor)
    oriented = MetaTensor(resized, affine=reference.affine, applied_operations=list(reference.applied_operations))
    back = orientation.inverse(oriented)
    return np.ascontiguousarray(torch.as_tensor(back).as_subclass(torch.Tensor).numpy().astype(np.float32))


def inference_cases(
    dataset_path: str | os.PathLike[str], split: str, *, spatial_size: Sequence[int], limit: int | None = None
) -> Dataset:
    """Cases ``{"image", "label", "case_id", "original_shape", "original_affine"}`` for inference.

    Args:
        dataset_path: a MedMNIST ``.npz`` (cases of ``split``), a datalist ``.json``, a folder of NIfTI files
            and DICOM series folders, or one NIfTI file or DICOM folder.
        split: split of an ``.npz`` or datalist.
        spatial_size: network input shape.
        limit: keep the first ``limit`` cases.

    Raises:
        DatasetError: unusable path or split, or no case.
    """
    path = Path(dataset_path)
    if path.suffix == ".npz":
        images, labels = load_npz_split(path, split)
        images, labels = images[:limit], labels[:limit]
        cases = [
            {
                "image": preprocess_array(images[i][None], spatial_size=spatial_size),
                "label": int(labels[i]),
                "case_id": f"{split}_{i:05d}",
                "original_shape": torch.tensor(images.shape[1:]),
                "original_affine": torch.eye(4, dtype=torch.float64),
            }
            for i in range(len(images))
        ]
    else:
        if path.suffix == ".json":
            entries = load_datalist(path, split)
        elif path.is_dir() and not _is_dicom_dir(path):
            entries = [{"image": str(p), "label": None, "case_id": _case_name(p)} for p in _folder(path)]
        elif path.exists():
            entries = [{"image": str(path), "label": None, "case_id": _case_name(path)}]
        else:
            raise DatasetError(path, "expected an .npz archive, a datalist .json, a folder or an image")
        cases = [_file_case(e, spatial_size) for e in entries[:limit]]
    if not cases:
        raise DatasetError(path, f"split {split!r} holds no cases")
    return Dataset(data=cases)


def _case_name(path: Path) -> str:
    name = path.name
    for suffix in _IMAGE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _is_dicom_dir(path: Path) -> bool:
    """A folder holding files but no NIfTI-like file is one DICOM series."""
    files = [p for p in path.iterdir() if p.is_file()]
    return bool(files) and not any(p.name.lower().endswith(_IMAGE_SUFFIXES) for p in files)


def _folder(path: Path) -> list[Path]:
    files = [p for p in sorted(path.iterdir()) if p.is_file() and p.name.lower().endswith(_IMAGE_SUFFIXES)]
    return files + [p for p in sorted(path.iterdir()) if p.is_dir()]


def _file_case(entry: dict[str, Any], spatial_size: Sequence[int]) -> dict[str, Any]:
    path = Path(entry["image"])
    reader = DicomSeriesReader() if path.is_dir() else None
    try:
        image: Any = EnsureChannelFirst()(LoadImage(reader=reader, image_only=True)(str(path)))
    except (RuntimeError, OSError, ValueError) as err:
        raise DatasetError(path, f"cannot be loaded as a volume ({err})") from err
    affine = torch.as_tensor(image.affine, dtype=torch.float64)
    ras = Orientation(axcodes="RAS")(image)
    try:
        tensor = preprocess_array(ras, spatial_size=spatial_size)
    except ValueError as err:
        raise DatasetError(path, str(err)) from err
    label = entry.get("label")
    return {
        "image": tensor,
        "label": -1 if label is None else int(label),
        "case_id": str(entry.get("case_id") or _case_name(path)),
        "original_shape": torch.tensor(image.shape[1:]),
        "original_affine": affine,
    }


def _batch_item(batch: Any, index: int) -> dict[str, Any]:
    """Item ``index`` of a collated (dict of sequences) or decollated (list of dicts) batch."""
    if isinstance(batch, dict):
        return {key: value[index] for key, value in batch.items()}
    return dict(batch[index])


class AnomalyMapWriter:
    """Inference handler: per case, write ``<case_id>_reconstruction.nii.gz`` and
    ``<case_id>_anomaly_map.nii.gz`` in the input's grid and affine, then ``scores.csv`` and ``scores.json``.

    Reads the decollated ``engine.state.output`` items (``image`` = network input, ``pred`` =
    reconstruction) and ``engine.state.batch`` (``case_id``, ``label``, ``original_shape``,
    ``original_affine`` from :func:`inference_cases`).

    Args:
        output_dir: folder of the outputs (created).
        sigma: Gaussian sigma in voxels of the network grid.
        scale: residual value that maps to 1 in the anomaly map (from the bundle metadata).
        top_fraction: for ``score="top"``.
        score: ``"signed"`` (mean of image - reconstruction), ``"mean"`` (mean absolute residual) or
            ``"top"`` (mean of the top voxels of the smoothed residual).
    """

    def __init__(
        self,
        *,
        output_dir: str | os.PathLike[str],
        sigma: float = 1.0,
        scale: float = 1.0,
        top_fraction: float = 0.01,
        score: str = "mean",
    ) -> None:
        self.output_dir = Path(output_dir)
        self.outputs = AnomalyOutputs(sigma=sigma, scale=scale, score=score, top_fraction=top_fraction)
        self.rows: list[dict[str, Any]] = []

    def attach(self, engine: Engine) -> None:
        """Write every iteration's cases, then the score tables at the end."""
        engine.add_event_handler(Events.STARTED, lambda _: self.rows.clear())
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._write_batch)
        engine.add_event_handler(Events.COMPLETED, self._write_scores)

    def _write_batch(self, engine: Engine) -> None:
        items = engine.state.output
        batch = engine.state.batch
        item: Any
        for i, item in enumerate(items):  # type: ignore[arg-type]
            image = torch.as_tensor(item["image"]).as_subclass(torch.Tensor).float().cpu()
            recon = torch.as_tensor(item["pred"]).as_subclass(torch.Tensor).float().cpu()
            amap, value = self.outputs(image, recon)
            case = _batch_item(batch, i)
            case_id = str(case["case_id"])
            shape = [int(s) for s in case["original_shape"]]
            affine = np.asarray(case["original_affine"], dtype=np.float64)
            for name, volume in (("reconstruction", recon), ("anomaly_map", amap)):
                array = to_input_grid(volume, original_shape=shape, original_affine=affine)[0]
                if name == "anomaly_map":
                    array = np.clip(array, 0.0, 1.0)
                save_nifti(
                    Volume(array=array, affine=affine), self.output_dir / f"{case_id}_{name}.nii.gz", sidecar=False
                )
            self.rows.append(
                {
                    "case_id": case_id,
                    "label": int(case["label"]),
                    "anomaly_score": float(value),
                    "anomaly_map_max": float(amap.max()),
                }
            )

    def _write_scores(self, _engine: Engine) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["case_id", "label", "anomaly_score", "anomaly_map_max"])
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.output_dir / "scores.csv", buffer.getvalue())
        atomic_write_text(self.output_dir / "scores.json", json.dumps(self.rows, indent=2) + "\n")
