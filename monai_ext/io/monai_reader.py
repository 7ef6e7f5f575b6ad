"""MONAI ``ImageReader`` for DICOM series folders, backed by the validated loader.

With it, ``LoadImage(reader=DicomSeriesReader())`` (or ``LoadImaged`` in a bundle config via
``{"_target_": "monai_ext.io.DicomSeriesReader"}``) turns a DICOM folder into a ``MetaTensor`` with the
same RAS affine convention as a NIfTI file read by MONAI's ``NibabelReader``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from monai.data.image_reader import ImageReader
from monai.utils import MetaKeys, SpaceKeys

from monai_ext.io.dicom.load import load_dicom_series
from monai_ext.io.errors import DicomError
from monai_ext.io.volume import Volume

__all__ = ["DicomSeriesReader"]


class _Refused:
    """A load that failed with a :class:`DicomError`, carried from ``read`` to ``get_data``.

    MONAI's ``LoadImage`` catches any exception raised by a user-designated reader's ``read`` and silently
    tries its other readers, which load a series with a missing slice as evenly spaced: the refusal would be
    lost. ``get_data`` runs outside that ``try``, so the error is raised there.
    """

    def __init__(self, error: DicomError) -> None:
        self.error = error


class DicomSeriesReader(ImageReader):
    """Read a DICOM series folder (or a list of its files) with full geometry validation.

    Args:
        series_uid: the series to load when a folder holds several.
        stack: the stack to load when a series holds several that do not form one volume.
        resample: interpolate missing slices and remove gantry tilt instead of refusing.
        dtype: cast the array to this dtype (default keeps the loader's: int16 for CT in HU).

    Example:
        >>> from monai.transforms import LoadImage
        >>> load = LoadImage(reader=DicomSeriesReader(), image_only=True, ensure_channel_first=True)
        >>> # image = load("path/to/dicom_folder")  -> MetaTensor (1, I, J, K), image.affine in RAS
    """

    def __init__(
        self,
        *,
        series_uid: str | None = None,
        stack: int | None = None,
        resample: bool = False,
        dtype: np.dtype | str | None = None,
    ) -> None:
        super().__init__()
        self.series_uid = series_uid
        self.stack = stack
        self.resample = resample
        self.dtype = np.dtype(dtype) if dtype is not None else None

    def verify_suffix(self, filename: Sequence[os.PathLike[str] | str] | os.PathLike[str] | str) -> bool:
        """Accept a folder, or files without a NIfTI/NRRD/image extension (DICOM has no fixed suffix)."""
        names = [filename] if isinstance(filename, str | os.PathLike) else list(filename)
        other = (".nii", ".nii.gz", ".nrrd", ".mha", ".mhd", ".png", ".jpg", ".npy", ".npz")
        return all(Path(n).is_dir() or not str(n).lower().endswith(other) for n in names)

    def read(self, data: Sequence[os.PathLike[str] | str] | os.PathLike[str] | str, **kwargs: Any) -> Volume | _Refused:
        """Load the series in ``data`` (a folder, or the files of one series).

        A :class:`DicomError` is returned wrapped and raised by :meth:`get_data` (see :class:`_Refused`).
        """
        source = [data] if isinstance(data, str | os.PathLike) else list(data)
        try:
            return load_dicom_series(
                source,
                series_uid=kwargs.get("series_uid", self.series_uid),
                stack=kwargs.get("stack", self.stack),
                resample=kwargs.get("resample", self.resample),
            )
        except DicomError as err:
            return _Refused(err)

    def get_data(self, img: Volume | _Refused) -> tuple[np.ndarray, dict[str, Any]]:
        """Array ``(I, J, K[, T])`` and MONAI metadata (RAS affine, spatial shape, channel info).

        Raises:
            DicomError: the load was refused (missing slice, tilt, corrupt file, ...).
        """
        if isinstance(img, _Refused):
            raise img.error
        array = np.asarray(img.array)
        if self.dtype is not None:
            array = array.astype(self.dtype)
        spatial = tuple(array.shape[:3])
        # None values (absent tags) are left out: MONAI's DataLoader cannot collate them into a batch
        meta: dict[str, Any] = {k: v for k, v in img.meta.items() if k != "source_files" and v is not None}
        meta[MetaKeys.ORIGINAL_AFFINE] = img.affine.copy()
        meta[MetaKeys.AFFINE] = img.affine.copy()
        meta[MetaKeys.SPATIAL_SHAPE] = np.asarray(spatial)
        meta[MetaKeys.SPACE] = SpaceKeys.RAS
        meta[MetaKeys.ORIGINAL_CHANNEL_DIM] = float("nan") if array.ndim == 3 else -1
        meta["filename_or_obj"] = img.meta.get("source_files", [""])[0]
        return array, meta
