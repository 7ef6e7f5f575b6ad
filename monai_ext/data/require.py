"""Stop a bundle command early, with the override to pass, when its dataset is not where the config says."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["require_dataset", "require_file"]


def require_dataset(dataset_path: str | os.PathLike[str] | None, *, override: str = "dataset_path") -> str:
    """Return ``dataset_path`` if it exists; otherwise end the command with a message naming ``--<override>``.

    Meant for a bundle config's ``initialize`` list (``python -m monai.bundle run ...``): a missing dataset then
    ends in one clear line instead of a traceback from deep inside the data loader.

    Raises:
        SystemExit: the path is unset or does not exist (the message says what to pass).

    Example:
        >>> require_dataset(".")
        '.'
    """
    if dataset_path is not None and str(dataset_path) and Path(dataset_path).exists():
        return str(dataset_path)
    where = f"no dataset at {Path(dataset_path).resolve()}" if dataset_path else "no dataset given"
    raise SystemExit(
        f"{where}. Pass one with --{override} PATH: a MedMNIST-style .npz (e.g. AdrenalMNIST3D "
        "adrenalmnist3d_64.npz from https://medmnist.com/ or https://zenodo.org/records/10519652), "
        "a datalist .json or a folder of NIfTI files / DICOM series."
    )


def require_file(path: str | os.PathLike[str] | None, *, override: str, what: str) -> str:
    """Return ``path`` if it is a file; otherwise end the command with a message naming ``--<override>``.

    Raises:
        SystemExit: the path is unset or not a file.

    Example:
        >>> require_file(None, override="classifier_path", what="classifier weights")
        Traceback (most recent call last):
        ...
        SystemExit: no classifier weights given. Pass them with --classifier_path PATH.
    """
    if path is not None and str(path) and Path(path).is_file():
        return str(path)
    where = f"no {what} at {Path(path).resolve()}" if path else f"no {what} given"
    raise SystemExit(f"{where}. Pass them with --{override} PATH.")
