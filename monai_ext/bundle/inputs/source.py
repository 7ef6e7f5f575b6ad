"""The runner's input: a NIfTI/NRRD file, a DICOM folder, or an in-memory volume, as a channel-first MetaTensor."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from monai.data import MetaTensor

from monai_ext.bundle.errors import BundleInputError
from monai_ext.io.dicom.load import load_dicom_series
from monai_ext.io.errors import DicomError
from monai_ext.io.nifti import load_nifti
from monai_ext.io.volume import Volume

__all__ = ["InputSource", "load_input", "volume_to_tensor"]

InputSource = str | os.PathLike[str] | Volume | tuple[np.ndarray, np.ndarray]
_NIFTI = (".nii", ".nii.gz")
_NRRD = (".nrrd", ".nhdr")


def load_input(source: InputSource) -> MetaTensor:
    """Load a volume for a bundle.

    Args:
        source: a NIfTI or NRRD file, a folder holding one DICOM series, a :class:`~monai_ext.io.Volume`,
            or ``(array, affine)``: an ``(I, J, K)`` array and its ``(4, 4)`` voxel-to-RAS matrix (e.g. a
            Slicer volume node's array transposed from KJI, with its IJK-to-RAS matrix).

    Returns:
        ``(1, I, J, K)`` float32 MetaTensor whose ``affine`` maps voxels to RAS mm, whose
        ``filename_or_obj`` names the source and, for a DICOM series, whose ``modality`` is its Modality.

    Raises:
        BundleInputError: unreadable file, not 3D, non-finite values or a bad affine (names the source).
    """
    if isinstance(source, Volume):
        return volume_to_tensor(source.array, source.affine, "in-memory volume")
    if isinstance(source, tuple):
        array, affine = source
        return volume_to_tensor(np.asarray(array), np.asarray(affine, dtype=np.float64), "in-memory volume")
    path = Path(source)
    volume = _read(path)
    tensor = volume_to_tensor(volume.array, volume.affine, str(path))
    if volume.meta.get("modality"):  # a DICOM series' Modality (CT, MR, ...), e.g. for display windows
        tensor.meta["modality"] = str(volume.meta["modality"])
    return tensor


def _read(path: Path) -> Volume:
    name = path.name.lower()
    try:
        if path.is_dir():
            return load_dicom_series(path)
        if name.endswith(_NIFTI):
            return load_nifti(path)
        if name.endswith(_NRRD):
            return _read_nrrd(path)
    except DicomError as err:
        raise BundleInputError(f"cannot read the input ({type(err).__name__}: {err})", path) from err
    except (OSError, ValueError) as err:
        raise BundleInputError(f"cannot read the input ({err})", path) from err
    if not path.exists():
        raise BundleInputError("no such file or folder", path)
    raise BundleInputError("not a NIfTI (.nii, .nii.gz) or NRRD file, nor a folder of DICOM files", path)


def _read_nrrd(path: Path) -> Volume:
    from monai.transforms import LoadImage  # NRRD goes through MONAI's NrrdReader (needs pynrrd)

    try:
        image = LoadImage(reader="NrrdReader", image_only=True)(str(path))
    except (ImportError, RuntimeError) as err:
        raise BundleInputError(f"cannot read NRRD here ({err}); install pynrrd or convert to NIfTI", path) from err
    return Volume(array=np.asarray(image), affine=np.asarray(image.affine, dtype=np.float64))


def volume_to_tensor(array: np.ndarray, affine: np.ndarray, name: str) -> MetaTensor:
    """Check an ``(I, J, K)`` array (or ``(I, J, K, 1)``) and its affine; return ``(1, I, J, K)`` float32."""
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3:
        raise BundleInputError(f"expected a 3D volume, got shape {array.shape}", name)
    if min(array.shape) < 2:
        raise BundleInputError(f"the volume is too thin for a 3D network: shape {array.shape}", name)
    if affine.shape != (4, 4) or not np.isfinite(affine).all() or abs(np.linalg.det(affine[:3, :3])) < 1e-9:
        raise BundleInputError("the affine must be a finite, invertible 4x4 matrix", name)
    data = torch.as_tensor(np.ascontiguousarray(array), dtype=torch.float32)
    if not torch.isfinite(data).all():
        raise BundleInputError(f"the volume holds {int((~torch.isfinite(data)).sum())} NaN or infinite voxels", name)
    return MetaTensor(data[None], affine=torch.as_tensor(affine, dtype=torch.float64), meta={"filename_or_obj": name})
