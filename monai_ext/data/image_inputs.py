"""The images an inference config runs on: one NIfTI file, a folder of NIfTI files, or one DICOM series folder."""

from __future__ import annotations

import os
from pathlib import Path

from monai_ext.data.npz import DatasetError

__all__ = ["image_inputs", "is_dicom_input"]

_NIFTI = (".nii", ".nii.gz")


def _nifti_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(_NIFTI) and not p.name.startswith("."))


def is_dicom_input(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder read as one DICOM series (a folder without NIfTI files).

    Example:
        >>> import tempfile
        >>> is_dicom_input(tempfile.mkdtemp())
        True
    """
    path = Path(path)
    return path.is_dir() and not _nifti_files(path)


def image_inputs(path: str | os.PathLike[str], *, override: str = "input_path") -> list[dict[str, str]]:
    """Datalist ``[{"image": absolute path}]`` for ``path``.

    Args:
        path: a NIfTI file (``.nii``/``.nii.gz``), a folder of NIfTI files (each one a case), or a folder
            holding one DICOM series.
        override: the config key named in the error message when ``path`` is missing.

    Raises:
        DatasetError: ``path`` does not exist (the message names the override to pass), or is a file
            that is not NIfTI.

    Example:
        >>> import pathlib, tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "a.nii.gz").write_bytes(b"")
        >>> [pathlib.Path(e["image"]).name for e in image_inputs(folder)]
        ['a.nii.gz']
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(
            path,
            f"no input here; pass --{override} with a NIfTI file, a folder of NIfTI files or a DICOM series folder",
        )
    if path.is_file():
        if not path.name.endswith(_NIFTI):
            raise DatasetError(path, "not a NIfTI file (.nii, .nii.gz); pass a DICOM series as its folder")
        return [{"image": str(path.resolve())}]
    files = _nifti_files(path)
    return [{"image": str(f.resolve())} for f in files] if files else [{"image": str(path.resolve())}]
