"""Tiny synthetic MR series for the 4D and mosaic tests: classic files with per-image tags, Siemens mosaics."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"


def _file(ds: Dataset, path: Path) -> Path:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def mr_image(
    pixels: np.ndarray,
    position: Sequence[float],
    *,
    series_uid: str,
    instance: int,
    orientation: Sequence[float] = (1, 0, 0, 0, 1, 0),
    spacing: Sequence[float] = (2.0, 2.0),
    **tags: Any,
) -> Dataset:
    """One single-frame MR image ``(rows, cols)`` uint16 with the given geometry and extra tags."""
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = MR_IMAGE, generate_uid()
    ds.Modality, ds.Manufacturer = "MR", tags.pop("Manufacturer", "monai-ext")
    ds.PatientID, ds.PatientName = "SYNTH", "SYNTH^MR"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.1", series_uid
    ds.SeriesNumber, ds.InstanceNumber = 1, instance
    ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
    ds.ImageOrientationPatient = [f"{v:.8f}" for v in orientation]
    ds.PixelSpacing = [f"{v:g}" for v in spacing]
    ds.SliceThickness = "3"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    for tag, (vr, value) in tags.pop("private", {}).items():
        ds.add_new(tag, vr, value)
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    ds.PixelData = np.ascontiguousarray(pixels, np.uint16).tobytes()
    return ds


def write_4d(
    folder: Path,
    volumes: np.ndarray,
    tags_of: Any,
    *,
    slice_gap: float = 3.0,
    instance_order: str = "volume",
) -> str:
    """Write ``volumes`` ``(T, K, rows, cols)`` as one classic series; ``tags_of(t, k)`` gives each image's tags.

    Returns:
        The SeriesInstanceUID.
    """
    uid = generate_uid()
    n_vol, n_slices = volumes.shape[:2]
    for t in range(n_vol):
        for k in range(n_slices):
            instance = t * n_slices + k + 1 if instance_order == "volume" else k * n_vol + t + 1
            ds = mr_image(volumes[t, k], (0.0, 0.0, k * slice_gap), series_uid=uid, instance=instance, **tags_of(t, k))
            _file(ds, folder / f"f{(t * 7919 + k * 104729) % 1000003:07d}.dcm")  # names unrelated to order
    return uid


def csa_header(elements: dict[str, Sequence[str]]) -> bytes:
    """A Siemens CSA2 (``SV10``) header holding ``name -> values``."""
    out = [b"SV10", b"\x04\x03\x02\x01", struct.pack("<2I", len(elements), 77)]
    for name, values in elements.items():
        out.append(struct.pack("<64si4s3i", name.encode(), 1, b"DS\0\0", 3, len(values), 77))
        for value in values:
            data = value.encode() + b"\0"
            out.append(struct.pack("<4i", len(data), len(data), 77, len(data)))
            out.append(data + b"\0" * ((4 - len(data) % 4) % 4))
    return b"".join(out)


def write_mosaic(
    folder: Path,
    volume: np.ndarray,
    *,
    normal_sign: float = 1.0,
    gap: float = 3.5,
    orientation: Sequence[float] = (1, 0, 0, 0, 0.98, -0.19899749),
    n_time: int = 2,
    per_side: int | None = None,
) -> tuple[str, np.ndarray, np.ndarray]:
    """Write ``volume`` ``(K, r, c)`` as ``n_time`` Siemens mosaic files (time t adds ``t``).

    Tile ``k`` holds slice ``k``; slices advance along ``normal_sign * (row x col)``.

    Returns:
        The series UID, the LPS position of each slice's first voxel ``(K, 3)`` and the slice normal used.
    """
    n, r, c = volume.shape
    side = per_side or int(np.ceil(np.sqrt(n)))
    row, col = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
    normal = normal_sign * np.cross(row, col)
    normal /= np.linalg.norm(normal)
    spacing = (2.0, 2.0)
    first = np.array([-60.0, -70.0, 10.0])
    positions = np.array([first + k * gap * normal for k in range(n)])
    corner = first - row * spacing[1] * (side * c - c) / 2 - col * spacing[0] * (side * r - r) / 2
    uid = generate_uid()
    for t in range(n_time):
        stored = np.zeros((side * r, side * c), np.uint16)
        for k in range(n):
            tr, tc = divmod(k, side)
            stored[tr * r : (tr + 1) * r, tc * c : (tc + 1) * c] = volume[k] + t
        ds = mr_image(
            stored,
            corner,
            series_uid=uid,
            instance=t + 1,
            orientation=orientation,
            spacing=spacing,
            Manufacturer="SIEMENS",
            ImageType=["ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC"],
            AcquisitionNumber=t + 1,
            SpacingBetweenSlices=f"{gap:g}",
            EchoTime="30",
            RepetitionTime="2000",
        )
        ds.add_new(0x00290010, "LO", "SIEMENS CSA HEADER")
        csa = csa_header({"NumberOfImagesInMosaic": [str(n)], "SliceNormalVector": [f"{v:.8f}" for v in normal]})
        ds.add_new(0x00291010, "OB", csa)
        _file(ds, folder / f"mosaic{t:03d}.dcm")
    return uid, positions, normal
