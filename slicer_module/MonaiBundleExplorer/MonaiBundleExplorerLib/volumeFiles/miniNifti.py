"""A minimal NIfTI-1 reader (numpy + stdlib) for the 4D multi-label masks that Slicer's volume reader refuses.

Slicer ships no nibabel, and ``vtkMRMLVolumeArchetypeStorageNode`` cannot read a 4D ``(I, J, K, C)`` NIfTI. This
reads single-file ``.nii``/``.nii.gz`` (either byte order) into an ``(I, J, K[, C])`` array and its IJK-to-RAS
affine (sform when set, else qform), like nibabel's ``get_fdata`` without scaling for integer masks.
"""

from __future__ import annotations

import gzip
import struct

import numpy as np

DTYPES = {2: "u1", 4: "i2", 8: "i4", 16: "f4", 64: "f8", 256: "i1", 512: "u2", 768: "u4", 1024: "i8", 1280: "u8"}


def readNifti(path) -> tuple[np.ndarray, np.ndarray]:
    """``(array, affine)`` of a NIfTI-1 file; raises ``ValueError`` naming the file when it is not one."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as file:
            content = file.read()
    except OSError as exc:
        raise ValueError(f"Cannot read the NIfTI file {path}: {exc}") from exc
    if len(content) < 348:
        raise ValueError(f"{path} is too short to be a NIfTI-1 file")
    endian = "<" if struct.unpack("<i", content[:4])[0] == 348 else ">"
    if struct.unpack(endian + "i", content[:4])[0] != 348 or content[344:347] not in (b"n+1", b"ni1"):
        raise ValueError(f"{path} is not a single-file NIfTI-1 image")
    dims = struct.unpack(endian + "8h", content[40:56])
    datatype = struct.unpack(endian + "h", content[70:72])[0]
    if datatype not in DTYPES or not 1 <= dims[0] <= 7:
        raise ValueError(f"{path}: unsupported NIfTI data type {datatype} or rank {dims[0]}")
    shape = tuple(int(size) for size in dims[1 : dims[0] + 1])
    offset = int(struct.unpack(endian + "f", content[108:112])[0])
    count = int(np.prod(shape))
    dtype = np.dtype(endian + DTYPES[datatype])
    if len(content) < offset + count * dtype.itemsize:
        raise ValueError(f"{path} is truncated: {shape} {dtype} needs more data than the file holds")
    array = np.frombuffer(content, dtype=dtype, count=count, offset=offset).reshape(shape, order="F")
    slope, intercept = struct.unpack(endian + "2f", content[112:120])
    if slope not in (0.0, 1.0) or intercept != 0.0:
        array = array * slope + intercept
    return array, _affine(content, endian)


def _affine(content: bytes, endian: str) -> np.ndarray:
    qformCode, sformCode = struct.unpack(endian + "2h", content[252:256])
    if sformCode > 0:
        rows = struct.unpack(endian + "12f", content[280:328])
        return np.vstack([np.array(rows, dtype=np.float64).reshape(3, 4), [0.0, 0.0, 0.0, 1.0]])
    pixdim = struct.unpack(endian + "8f", content[76:108])
    b, c, d, x, y, z = struct.unpack(endian + "6f", content[256:280])
    a = np.sqrt(max(0.0, 1.0 - (b * b + c * c + d * d)))
    rotation = np.array([
        [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
        [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
        [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
    ])  # fmt: skip
    qfac = -1.0 if pixdim[0] < 0 else 1.0
    affine = np.eye(4)
    affine[:3, :3] = rotation * np.array([pixdim[1], pixdim[2], pixdim[3] * qfac])
    affine[:3, 3] = [x, y, z] if qformCode > 0 else [0.0, 0.0, 0.0]
    return affine
