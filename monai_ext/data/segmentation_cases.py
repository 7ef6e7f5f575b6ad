"""Image/label pairs for segmentation: an MSD-style folder (``imagesTr``/``labelsTr``) or a datalist JSON.

An MSD folder has no split of its own, so one is made by a fixed, seeded rule (:func:`split_cases`):
the case ids are sorted, shuffled with ``random.Random(seed)``, and the first ``test_cases`` become
``test``, the next ``val_cases`` ``val`` and the rest ``train``. The rule depends only on the case ids, so
the same folder always gives the same split on any machine, and ``test`` is never seen by training or
model selection. ``split="all"`` returns every case (e.g. an independent test set in its own folder).

A datalist JSON (MONAI decathlon style, paths relative to the file) names its own splits::

    {"training": [{"image": "imagesTr/a.nii.gz", "label": "labelsTr/a.nii.gz"}, ...],
     "validation": [...], "test": [...]}

``image`` may also be a DICOM series folder.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monai_ext.data.datalist import SPLIT_ALIASES
from monai_ext.data.npz import DatasetError

__all__ = ["SEGMENTATION_SPLITS", "segmentation_cases", "split_cases"]

SEGMENTATION_SPLITS = ("train", "val", "test", "all")
_SUFFIXES = (".nii.gz", ".nii")


def split_cases(case_ids: Sequence[str], *, test_cases: int, val_cases: int, seed: int = 0) -> dict[str, list[str]]:
    """The fixed, seeded train/val/test split of a set of case ids.

    Args:
        case_ids: the ids (order does not matter; they are sorted first).
        test_cases: number of held-out test cases.
        val_cases: number of validation (model selection) cases.
        seed: seed of ``random.Random`` that shuffles the sorted ids.

    Returns:
        ``{"train": [...], "val": [...], "test": [...]}``, each list sorted.

    Raises:
        ValueError: negative counts, or fewer than one training case would remain.

    Example:
        >>> s = split_cases([f"c{i}" for i in range(10)], test_cases=2, val_cases=3, seed=0)
        >>> [len(s[k]) for k in ("train", "val", "test")]
        [5, 3, 2]
    """
    if test_cases < 0 or val_cases < 0:
        raise ValueError(f"test_cases and val_cases must be >= 0, got {test_cases} and {val_cases}")
    ids = sorted(set(case_ids))
    if test_cases + val_cases >= len(ids):
        raise ValueError(f"{len(ids)} cases cannot give {test_cases} test + {val_cases} val cases and a training set")
    shuffled = random.Random(seed).sample(ids, len(ids))
    test, val = shuffled[:test_cases], shuffled[test_cases : test_cases + val_cases]
    train = shuffled[test_cases + val_cases :]
    return {"train": sorted(train), "val": sorted(val), "test": sorted(test)}


def segmentation_cases(
    dataset_path: str | os.PathLike[str],
    split: str,
    *,
    test_cases: int = 30,
    val_cases: int = 20,
    seed: int = 0,
    limit: int | None = None,
) -> list[dict[str, str]]:
    """The ``{"image", "label", "case_id"}`` entries (absolute paths) of one split.

    Args:
        dataset_path: a folder with ``imagesTr/`` and ``labelsTr/`` (same file names), or a datalist JSON.
        split: ``train``, ``val``, ``test`` or ``all``; for a datalist also any split name it holds.
        test_cases: size of the held-out test split of a folder (see :func:`split_cases`).
        val_cases: size of the validation split of a folder.
        seed: seed of the folder split.
        limit: keep the first ``limit`` cases (smoke runs).

    Raises:
        DatasetError: the path does not exist (the message names the ``dataset_path`` override), has no
            image/label pairs, a label file is missing, or the split is unknown or empty.
    """
    path = Path(dataset_path)
    if not path.exists():
        raise DatasetError(
            path,
            "no dataset here; pass --dataset_path with a folder holding imagesTr/ and labelsTr/ "
            "(e.g. the Medical Segmentation Decathlon Task04_Hippocampus) or a datalist JSON",
        )
    if path.is_dir():
        cases = _folder_split(path, split, test_cases=test_cases, val_cases=val_cases, seed=seed)
    else:
        cases = _datalist_split(path, split)
    if not cases:
        raise DatasetError(path, f"split {split!r} is empty")
    return cases[:limit] if limit else cases


def _case_id(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _folder_cases(path: Path) -> dict[str, dict[str, str]]:
    images, labels = path / "imagesTr", path / "labelsTr"
    if not images.is_dir() or not labels.is_dir():
        raise DatasetError(path, "a dataset folder needs imagesTr/ and labelsTr/ sub-folders")
    cases = {}
    for image in sorted(images.iterdir()):
        if image.name.startswith(".") or not image.name.endswith(_SUFFIXES):
            continue  # macOS '._' files and anything that is not NIfTI
        label = labels / image.name
        if not label.is_file():
            raise DatasetError(label, f"label of {image.name} is missing")
        case_id = _case_id(image.name)
        cases[case_id] = {"image": str(image.resolve()), "label": str(label.resolve()), "case_id": case_id}
    if not cases:
        raise DatasetError(images, "no NIfTI images (.nii, .nii.gz)")
    return cases


def _folder_split(path: Path, split: str, *, test_cases: int, val_cases: int, seed: int) -> list[dict[str, str]]:
    cases = _folder_cases(path)
    name = SPLIT_ALIASES.get(split, split) if split in ("training", "validation") else split
    if name not in SEGMENTATION_SPLITS:
        raise DatasetError(path, f"unknown split {split!r}; a folder has {list(SEGMENTATION_SPLITS)}")
    if name == "all":
        return list(cases.values())
    try:
        ids = split_cases(list(cases), test_cases=test_cases, val_cases=val_cases, seed=seed)[name]
    except ValueError as err:
        raise DatasetError(path, str(err)) from err
    return [cases[i] for i in ids]


def _datalist_split(path: Path, split: str) -> list[dict[str, str]]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DatasetError(path, f"not a readable JSON datalist ({err})") from err
    if not isinstance(content, dict):
        raise DatasetError(path, "a datalist must be a JSON object mapping split names to lists")
    lists = {k: v for k, v in content.items() if isinstance(v, list)}
    if split == "all":
        items = [item for v in lists.values() for item in v]
    else:
        key = split if split in lists else SPLIT_ALIASES.get(split, split)
        if key not in lists:
            raise DatasetError(path, f"no split {split!r}; has {sorted(lists)} (or 'all')")
        items = lists[key]
    return [_entry(path, i, item) for i, item in enumerate(items)]


def _entry(path: Path, index: int, item: Any) -> dict[str, str]:
    if not isinstance(item, dict) or not isinstance(item.get("image"), str) or not isinstance(item.get("label"), str):
        raise DatasetError(path, f"entry {index} needs 'image' and 'label' paths, got {item!r}")
    entry = {}
    for key in ("image", "label"):
        file = Path(item[key])
        file = file if file.is_absolute() else path.parent / file
        if not file.exists():
            raise DatasetError(path, f"entry {index}: {key} {file} does not exist")
        entry[key] = str(file.resolve())
    entry["case_id"] = str(item.get("case_id") or _case_id(Path(entry["image"]).name))
    return entry
