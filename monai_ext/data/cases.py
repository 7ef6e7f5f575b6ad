"""Load classification cases from a ``.npz`` archive, a datalist JSON or a folder, preprocessed in memory.

Every case becomes ``{"image": float32 tensor (1, D, H, W) in [0, 1], "label": int, "case_id": str}``
(``label`` is ``-1`` when unknown). The preprocessing is the data layer's: orientation to RAS for files,
:class:`~monai_ext.transforms.ResizeToShape` to ``spatial_size``, then per-volume min-max scaling to
[0, 1]. Preprocessing runs once (vectorised over the cases of an archive), so training epochs only pay for augmentation.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.data import Dataset
from monai.transforms import Compose, EnsureChannelFirst, LoadImage, Orientation

from monai_ext.data.datalist import load_datalist
from monai_ext.data.npz import DatasetError, load_npz_split
from monai_ext.io.monai_reader import DicomSeriesReader
from monai_ext.transforms.masks.mask_distance import mask_distance
from monai_ext.transforms.spatial.resize import ResizeToShape

__all__ = ["UNKNOWN_LABEL", "case_dataset", "load_cases", "preprocess_array"]

UNKNOWN_LABEL = -1
_NIFTI_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".mha", ".mhd")


def load_cases(
    dataset_path: str | os.PathLike[str],
    split: str,
    *,
    spatial_size: Sequence[int],
    limit: int | None = None,
    distance_channel: bool = False,
    max_distance: float = 6,
) -> list[dict[str, Any]]:
    """Read and preprocess every case of ``split``.

    Args:
        dataset_path: a MedMNIST-style ``.npz``, a datalist ``.json`` (see :mod:`monai_ext.data.datalist`),
            or a folder whose NIfTI files and DICOM sub-folders are unlabelled cases.
        split: split name (ignored for folders).
        spatial_size: network input shape ``(D, H, W)``.
        limit: keep only the first ``limit`` cases (smoke runs).
        distance_channel: for binary shape masks, append the inner distance map
            (:class:`~monai_ext.transforms.MaskDistance`) as a second channel: images become ``(2, D, H, W)``.
        max_distance: distance (voxels) mapped to 1 in that channel.

    Returns:
        The cases, in file order.

    Raises:
        DatasetError: the path or split is unusable, or the split is empty.
    """
    path = Path(dataset_path)
    if path.suffix == ".npz":
        cases = _npz_cases(path, split, spatial_size, limit)
    elif path.suffix == ".json":
        cases = [_file_case(e, spatial_size) for e in load_datalist(path, split)[:limit]]
    elif path.is_dir():
        cases = [_file_case({"image": str(p), "label": None, "case_id": p.name}, spatial_size) for p in _folder(path)]
        cases = cases[:limit]
    else:
        raise DatasetError(path, "expected an .npz archive, a datalist .json or a folder of images")
    if not cases:
        raise DatasetError(path, f"split {split!r} holds no cases")
    if distance_channel:
        _add_distance(cases, max_distance)
    return cases


def case_dataset(
    dataset_path: str | os.PathLike[str],
    split: str,
    *,
    spatial_size: Sequence[int],
    limit: int | None = None,
    distance_channel: bool = False,
    max_distance: float = 6,
) -> Dataset:
    """:func:`load_cases` wrapped in a MONAI :class:`~monai.data.Dataset` (no further transform)."""
    cases = load_cases(
        dataset_path,
        split,
        spatial_size=spatial_size,
        limit=limit,
        distance_channel=distance_channel,
        max_distance=max_distance,
    )
    return Dataset(data=cases)


def _add_distance(cases: list[dict[str, Any]], max_distance: float, chunk: int = 64) -> None:
    """Append the distance channel to every case in place (batched, ``chunk`` cases at a time)."""
    for start in range(0, len(cases), chunk):
        part = cases[start : start + chunk]
        masks = torch.stack([c["image"] for c in part])
        distance = mask_distance(masks, max_distance=max_distance)
        for case, dist in zip(part, distance, strict=True):
            case["image"] = torch.cat([case["image"], dist])


def preprocess_array(volume: np.ndarray | torch.Tensor, *, spatial_size: Sequence[int]) -> torch.Tensor:
    """Resize a ``(C, D, H, W)`` volume to ``spatial_size`` and scale it to [0, 1] (float32).

    The scaling is min-max over the whole volume (a constant volume becomes zeros), as MONAI's
    ``ScaleIntensity(minv=0, maxv=1)``.

    Raises:
        ValueError: the volume is not 4D or holds NaN/inf.
    """
    image = torch.as_tensor(np.asarray(volume) if not isinstance(volume, torch.Tensor) else volume)
    if image.ndim != 4:
        raise ValueError(f"expected a (C, D, H, W) volume, got shape {tuple(image.shape)}")
    return _preprocess_batch(image[None], spatial_size)[0]


def _preprocess_batch(batch: torch.Tensor, spatial_size: Sequence[int]) -> torch.Tensor:
    """``(N, C, D, H, W)`` -> resized float32 ``(N, C, *spatial_size)``, each case min-max scaled to [0, 1]."""
    images = batch.as_subclass(torch.Tensor).float()
    if not torch.isfinite(images).all():
        raise ValueError("the volume holds NaN or infinite values")
    n, c = images.shape[:2]
    if tuple(images.shape[2:]) != tuple(spatial_size):
        # ResizeToShape resamples each channel independently: cases are stacked as channels.
        flat = images.reshape(n * c, *images.shape[2:])
        images = torch.as_tensor(ResizeToShape(spatial_size=spatial_size)(flat)).as_subclass(torch.Tensor)
        images = images.reshape(n, c, *spatial_size)
    low = images.amin(dim=(1, 2, 3, 4), keepdim=True)
    span = images.amax(dim=(1, 2, 3, 4), keepdim=True) - low
    return torch.where(span > 0, (images - low) / span.clamp_min(torch.finfo(torch.float32).tiny), 0.0)


def _npz_cases(path: Path, split: str, spatial_size: Sequence[int], limit: int | None) -> list[dict[str, Any]]:
    images, labels = load_npz_split(path, split)
    images, labels = images[:limit], labels[:limit]
    try:
        tensors = _preprocess_batch(torch.from_numpy(np.ascontiguousarray(images))[:, None], spatial_size)
    except ValueError as err:
        raise DatasetError(path, f"split {split!r}: {err}") from err
    return [{"image": tensors[i], "label": int(labels[i]), "case_id": f"{split}_{i:05d}"} for i in range(len(tensors))]


def _file_case(entry: dict[str, Any], spatial_size: Sequence[int]) -> dict[str, Any]:
    path = Path(entry["image"])
    reader = DicomSeriesReader() if path.is_dir() else None
    load = Compose([LoadImage(reader=reader, image_only=True), EnsureChannelFirst(), Orientation(axcodes="RAS")])
    try:
        image = load(str(path))
    except (RuntimeError, OSError, ValueError) as err:
        raise DatasetError(path, f"cannot be loaded as a volume ({err})") from err
    try:
        tensor = preprocess_array(image, spatial_size=spatial_size)
    except ValueError as err:
        raise DatasetError(path, str(err)) from err
    label = entry.get("label")
    return {"image": tensor, "label": UNKNOWN_LABEL if label is None else int(label), "case_id": entry["case_id"]}


def _folder(path: Path) -> list[Path]:
    files = [p for p in sorted(path.iterdir()) if p.is_file() and p.name.lower().endswith(_NIFTI_SUFFIXES)]
    dicom_dirs = [p for p in sorted(path.iterdir()) if p.is_dir()]
    return files + dicom_dirs
