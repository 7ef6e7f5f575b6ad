"""Datalist JSON files: a user's own NIfTI files or DICOM folders with class labels.

Format (MONAI decathlon style; paths relative to the JSON file's folder or absolute)::

    {"training": [{"image": "imgs/case001.nii.gz", "label": 0}, ...],
     "validation": [{"image": "dicom/case042", "label": 1}, ...],
     "test": [...]}

The split names ``train``/``val`` are accepted for ``training``/``validation``. ``label`` may be
omitted for unlabelled inference data.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from monai_ext.data.npz import DatasetError

__all__ = ["SPLIT_ALIASES", "load_datalist"]

SPLIT_ALIASES = {"train": "training", "val": "validation", "training": "train", "validation": "val"}


def load_datalist(path: str | os.PathLike[str], split: str) -> list[dict[str, Any]]:
    """Read one split of a datalist JSON.

    Args:
        path: the JSON file.
        split: ``training``/``train``, ``validation``/``val``, ``test`` or any key present in the file.

    Returns:
        A list of ``{"image": absolute path str, "label": int or None, "case_id": str}``.

    Raises:
        DatasetError: unreadable JSON, missing split, an entry without ``image``, an image path that does
            not exist, or a label that is not a non-negative integer.
    """
    path = Path(path)
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise DatasetError(path, "file not found") from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DatasetError(path, f"not a readable JSON datalist ({err})") from err
    if not isinstance(content, dict):
        raise DatasetError(path, "a datalist must be a JSON object mapping split names to lists")
    key = split if split in content else SPLIT_ALIASES.get(split, split)
    if key not in content or not isinstance(content[key], list):
        raise DatasetError(
            path, f"no split {split!r}; has {sorted(k for k, v in content.items() if isinstance(v, list))}"
        )
    return [_entry(path, i, item) for i, item in enumerate(content[key])]


def _entry(path: Path, index: int, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict) or "image" not in item:
        raise DatasetError(path, f"entry {index} needs an 'image' path, got {item!r}")
    image = Path(item["image"])
    image = image if image.is_absolute() else path.parent / image
    if not image.exists():
        raise DatasetError(path, f"entry {index}: image {image} does not exist")
    label = item.get("label")
    if label is not None and (isinstance(label, bool) or not isinstance(label, int) or label < 0):
        raise DatasetError(path, f"entry {index}: label must be a non-negative integer, got {label!r}")
    case_id = str(item.get("case_id", image.name.removesuffix(".gz").removesuffix(".nii")))
    return {"image": str(image), "label": label, "case_id": case_id}
