"""Siemens MOSAIC images: one stored image holding the slices of a volume as tiles, unpacked into slices.

A mosaic file (``ImageType`` containing ``MOSAIC``) stores ``NumberOfImagesInMosaic`` slices (CSA image header,
or (0019,100A)) as tiles of a square grid of ``ceil(sqrt(n))`` tiles per side, row by row. Its
``ImagePositionPatient`` is the corner of the whole stored image; the first slice's corner lies half the
difference between stored and tile size further along the rows and columns. Slices then advance along the CSA
``SliceNormalVector`` by the slice spacing: when that vector points against ``row x column`` the slices are
stored in descending order (the stack ordering later sorts them along the normal either way).
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pydicom

from monai_ext.io.dicom.headers.csa import CsaError, csa_float, csa_floats, csa_int, parse_csa
from monai_ext.io.dicom.headers.header import MosaicTile, SliceHeader
from monai_ext.io.errors import UnsupportedImageError

__all__ = ["expand_mosaic", "is_mosaic", "tile_view"]

_CSA_IMAGE, _CSA_SERIES, _MOSAIC_COUNT = 0x00291010, 0x00291020, 0x0019100A
_PARALLEL = 0.99
_PHOENIX_POSITION = re.compile(r"sSliceArray\.asSlice\[(\d+)\]\.sPosition\.d(Sag|Cor|Tra)\s*=\s*([-+0-9.eE]+)")


def is_mosaic(header: SliceHeader) -> bool:
    """True when the image is a Siemens mosaic (``MOSAIC`` in ImageType)."""
    return "MOSAIC" in header.image_type


def _refuse(header: SliceHeader, why: str) -> UnsupportedImageError:
    return UnsupportedImageError(
        f"Siemens MOSAIC image (several slices stored as tiles of one image) that cannot be unpacked: {why}; "
        "refused rather than returned as one large slice",
        [header.path],
        series_uid=header.series_uid,
    )


def _phoenix_spacing(csa_series: bytes, count: int) -> float | None:
    """Slice spacing from the first and last slice centres of the protocol text (MrPhoenixProtocol)."""
    try:
        text = parse_csa(csa_series).get("MrPhoenixProtocol")
    except CsaError:
        return None
    if text is None or not text.values:
        return None
    centres: dict[int, np.ndarray] = {}
    for index, axis, value in _PHOENIX_POSITION.findall(text.values[0]):
        centres.setdefault(int(index), np.zeros(3))["SCT".index(axis[0])] = float(value)
    if count < 2 or 0 not in centres or count - 1 not in centres:
        return None
    return float(np.linalg.norm(centres[count - 1] - centres[0]) / (count - 1))


def _read_private(path: Path) -> pydicom.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(
            path,
            stop_before_pixels=True,
            force=True,
            specific_tags=[0x00290010, _CSA_IMAGE, _CSA_SERIES, _MOSAIC_COUNT],
        )


def _bytes(ds: pydicom.Dataset, tag: int) -> bytes | None:
    element = ds.get(tag)
    value = getattr(element, "value", None)
    return value if isinstance(value, bytes) else None


def expand_mosaic(header: SliceHeader) -> list[SliceHeader]:
    """The slices of a mosaic image, one header per tile with its own position.

    Args:
        header: the stored image's header (``rows``/``columns`` of the whole mosaic).

    Returns:
        ``NumberOfImagesInMosaic`` headers with tile ``rows``/``columns`` and ``mosaic`` set, in tile order.

    Raises:
        UnsupportedImageError: the tile count, CSA slice normal, geometry or spacing is missing or inconsistent.
    """
    path = header.path
    try:
        ds = _read_private(path)
        csa = parse_csa(_bytes(ds, _CSA_IMAGE) or b"")
    except Exception as err:  # CsaError, or any of the many types pydicom raises on malformed private data
        raise _refuse(header, f"no readable Siemens CSA image header (0029,1010) ({err})") from err
    count = csa_int(csa, "NumberOfImagesInMosaic")
    if count is None:
        element = ds.get(_MOSAIC_COUNT)
        raw = getattr(element, "value", None)
        count = int.from_bytes(raw[:2], "little") if isinstance(raw, bytes) and len(raw) >= 2 else raw
    if not isinstance(count, int) or count < 1:
        raise _refuse(header, "NumberOfImagesInMosaic is missing")
    per_side = math.ceil(math.sqrt(count))
    if header.rows % per_side or header.columns % per_side:
        raise _refuse(header, f"{header.rows}x{header.columns} pixels do not divide into {per_side}x{per_side} tiles")
    if header.orientation is None or header.position is None or header.pixel_spacing is None:
        raise _refuse(header, "ImagePositionPatient, ImageOrientationPatient or PixelSpacing is missing")
    if min(header.pixel_spacing) <= 0:
        raise _refuse(header, f"PixelSpacing {list(header.pixel_spacing)} is not positive")
    normal = csa_floats(csa, "SliceNormalVector")
    row, col = np.asarray(header.orientation[:3]), np.asarray(header.orientation[3:])
    cross = np.cross(row, col)
    if normal is None or len(normal) != 3 or not np.all(np.isfinite(normal)) or np.linalg.norm(normal) < 1e-6:
        raise _refuse(header, "the CSA header has no SliceNormalVector (slice direction unknown)")
    normal_vec = np.asarray(normal, float) / np.linalg.norm(normal)
    if abs(float(normal_vec @ cross)) < _PARALLEL:
        raise _refuse(header, f"CSA SliceNormalVector {list(normal)} is not normal to the image plane")
    spacing = header.spacing_between_slices
    if spacing is None or spacing <= 0:
        series = _bytes(ds, _CSA_SERIES)
        spacing = _phoenix_spacing(series, count) if series else None
    if count > 1 and (spacing is None or spacing <= 0):
        raise _refuse(header, "no SpacingBetweenSlices and no slice positions in the CSA protocol")
    tile_rows, tile_cols = header.rows // per_side, header.columns // per_side
    row_spacing, col_spacing = header.pixel_spacing
    corner = (
        np.asarray(header.position, float)
        + row * col_spacing * (header.columns - tile_cols) / 2.0
        + col * row_spacing * (header.rows - tile_rows) / 2.0
    )
    b_value, gradient = header.b_value, header.gradient
    if b_value is None:  # diffusion mosaics: the CSA image header has them when (0019,100C/100E) are absent
        b_value = csa_float(csa, "B_value")
        direction = csa_floats(csa, "DiffusionGradientDirection")
        if direction is not None and len(direction) == 3 and np.linalg.norm(direction) > 1e-6:
            unit = np.asarray(direction) / np.linalg.norm(direction)
            gradient = (float(unit[0]), float(unit[1]), float(unit[2]))
    tiles = []
    for k in range(count):
        position = corner + k * (spacing or 0.0) * normal_vec
        tiles.append(
            dataclasses.replace(
                header,
                rows=tile_rows,
                columns=tile_cols,
                position=(float(position[0]), float(position[1]), float(position[2])),
                b_value=b_value,
                gradient=gradient,
                mosaic=MosaicTile(index=k, per_side=per_side, stored_rows=header.rows, stored_columns=header.columns),
            )
        )
    return tiles


def tile_view(stored: np.ndarray, header: SliceHeader) -> np.ndarray:
    """The ``(rows, columns)`` tile of ``header`` within the stored ``(stored_rows, stored_columns)`` image."""
    assert header.mosaic is not None
    tile_row, tile_col = divmod(header.mosaic.index, header.mosaic.per_side)
    r, c = header.rows, header.columns
    return stored[tile_row * r : (tile_row + 1) * r, tile_col * c : (tile_col + 1) * c]
