"""MedMNIST-style ``.npz`` archives: ``<split>_images`` (N, D, H, W) and ``<split>_labels`` (N,) or (N, 1)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["DatasetError", "load_npz_split", "npz_splits"]


class DatasetError(ValueError):
    """A dataset file or datalist that cannot be used; the message names the file and the problem.

    Attributes:
        path: the offending file.
        problem: what is wrong with it, in plain words.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def npz_splits(path: str | os.PathLike[str]) -> list[str]:
    """Names of the splits stored in a MedMNIST-style archive (those with both images and labels).

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "d.npz"
        >>> np.savez(f, val_images=np.zeros((1, 2, 2, 2)), val_labels=np.zeros((1, 1)))
        >>> npz_splits(f)
        ['val']
    """
    with _open(path) as archive:
        keys = set(archive.files)
    return sorted(k[: -len("_images")] for k in keys if k.endswith("_images") and f"{k[:-7]}_labels" in keys)


def load_npz_split(path: str | os.PathLike[str], split: str) -> tuple[np.ndarray, np.ndarray]:
    """Read one split of a MedMNIST-style archive without changing the file.

    Args:
        path: the ``.npz`` file.
        split: split name, e.g. ``"train"``, ``"val"`` or ``"test"``.

    Returns:
        ``(images, labels)``: images as stored, shape ``(N, D, H, W)`` (a trailing channel axis of size 1
        is dropped; MedMNIST stores ``uint8``), labels ``int64`` of shape ``(N,)``.

    Raises:
        DatasetError: the file is missing or not an ``.npz``, the split's keys are absent (the message
            lists the splits that exist), shapes disagree, or labels are not non-negative integers.
    """
    with _open(path) as archive:
        image_key, label_key = f"{split}_images", f"{split}_labels"
        if image_key not in archive.files or label_key not in archive.files:
            present = sorted({k.rsplit("_", 1)[0] for k in archive.files if k.endswith(("_images", "_labels"))})
            raise DatasetError(path, f"no split {split!r} (needs keys {image_key!r} and {label_key!r}); has {present}")
        images = archive[image_key]
        labels = archive[label_key]
    return _check_images(path, images), _check_labels(path, labels, len(images))


def _open(path: str | os.PathLike[str]) -> np.lib.npyio.NpzFile:
    if not Path(path).is_file():
        raise DatasetError(path, "file not found")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DatasetError(path, f"not a readable .npz archive ({err})") from err


def _check_images(path: str | os.PathLike[str], images: np.ndarray) -> np.ndarray:
    if images.ndim == 5 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 4:
        raise DatasetError(path, f"images must be (N, D, H, W), got shape {images.shape}")
    if images.dtype.kind not in "uif" or (images.dtype.kind == "f" and not np.isfinite(images).all()):
        raise DatasetError(path, f"images must be finite numbers, got dtype {images.dtype} (or NaN/inf values)")
    return images


def _check_labels(path: str | os.PathLike[str], labels: np.ndarray, n: int) -> np.ndarray:
    flat = labels.reshape(len(labels), -1) if labels.ndim else labels
    if flat.ndim != 2 or flat.shape[1] != 1 or len(flat) != n:
        raise DatasetError(path, f"labels must be (N,) or (N, 1) with N={n} images, got shape {labels.shape}")
    flat = flat[:, 0]
    if flat.dtype.kind not in "ui" and not (flat.dtype.kind == "f" and np.all(np.mod(flat, 1) == 0)):
        raise DatasetError(path, f"labels must be integers, got dtype {flat.dtype}")
    if len(flat) and flat.min() < 0:
        raise DatasetError(path, f"labels must be non-negative, got minimum {flat.min()}")
    return flat.astype(np.int64)
