"""Pixel data: read stored values straight into the output volume and apply the rescale per image.

Uncompressed little/big-endian pixel data is read from the file offset found while scanning the header,
one image at a time into a small reusable buffer, so peak memory stays close to the final volume.
Compressed transfer syntaxes go through pydicom's decoders (pylibjpeg, GDCM); a missing decoder gives a
:class:`MissingDecoderError` that names the transfer syntax and what to install.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import UID

from monai_ext.io.dicom.headers.header import SliceHeader
from monai_ext.io.dicom.mosaic import tile_view
from monai_ext.io.errors import CorruptDicomError, InconsistentSeriesError, MissingDecoderError

__all__ = ["output_dtype", "read_pixels"]

_NATIVE_LE = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"}
_NATIVE_BE = {"1.2.840.10008.1.2.2"}
_INTEGER_DTYPES = (np.uint8, np.int16, np.uint16, np.int32)
_CODEC_HINT = (
    "install the decoders with `pip install 'monai-ext[codecs]'` "
    "(pylibjpeg, pylibjpeg-libjpeg, pylibjpeg-openjpeg, pylibjpeg-rle, python-gdcm)"
)


def _stored_range(h: SliceHeader) -> tuple[int, int]:
    bits = h.bits_stored
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if h.pixel_signed else (0, (1 << bits) - 1)


def _is_integral(value: float) -> bool:
    return float(value).is_integer()


def output_dtype(headers: Sequence[SliceHeader]) -> np.dtype:
    """The smallest dtype that holds every rescaled value the headers allow.

    Integer slopes and intercepts keep an integer type (``int16`` for typical CT in HU); anything else
    gives ``float32``.
    """
    if not all(_is_integral(h.rescale_slope) and _is_integral(h.rescale_intercept) for h in headers):
        return np.dtype(np.float32)
    lows, highs = [], []
    for h in headers:
        lo, hi = _stored_range(h)
        ends = (lo * h.rescale_slope + h.rescale_intercept, hi * h.rescale_slope + h.rescale_intercept)
        lows.append(min(ends))
        highs.append(max(ends))
    low, high = min(lows), max(highs)
    for dtype in _INTEGER_DTYPES:
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return np.dtype(dtype)
    return np.dtype(np.float32)


def _raw_dtype(h: SliceHeader) -> np.dtype:
    if h.bits_allocated not in (8, 16, 32):
        raise InconsistentSeriesError(f"unsupported BitsAllocated {h.bits_allocated}", [h.path])
    endian = ">" if h.transfer_syntax in _NATIVE_BE else "<"
    kind = "i" if h.pixel_signed else "u"
    return np.dtype(f"{endian}{kind}{h.bits_allocated // 8}")


def _can_read_raw(h: SliceHeader) -> bool:
    return (
        h.pixel_offset is not None
        and h.transfer_syntax in _NATIVE_LE | _NATIVE_BE
        and h.samples_per_pixel == 1
        and h.bits_allocated in (8, 16, 32)
        and h.pixel_length is not None
        and h.pixel_length >= h.rows * h.columns * h.bits_allocated // 8
    )


def _fix_bits(raw: np.ndarray, h: SliceHeader) -> np.ndarray:
    """Sign-extend or mask values when fewer bits are stored than allocated."""
    spare = h.bits_allocated - h.bits_stored
    if spare <= 0:
        return raw
    if h.pixel_signed:
        native = raw.astype(raw.dtype.newbyteorder("="), copy=False)
        return (native << spare) >> spare
    np.bitwise_and(raw, (1 << h.bits_stored) - 1, out=raw)
    return raw


def _rescale_into(out: np.ndarray, raw: np.ndarray, h: SliceHeader) -> None:
    """``out[...] = raw * slope + intercept`` without a volume-sized temporary."""
    out[...] = raw
    if out.dtype.kind == "f":
        if h.rescale_slope != 1.0:
            out *= np.float32(h.rescale_slope)
        if h.rescale_intercept != 0.0:
            out += np.float32(h.rescale_intercept)
        return
    if h.rescale_slope != 1.0:
        out *= int(h.rescale_slope)
    if h.rescale_intercept != 0.0:
        out += int(h.rescale_intercept)


def _decode_file(path: Path, syntax: str) -> np.ndarray:
    """Decode all frames of a file with pydicom: ``(frames, rows, cols)``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path)
            arr = ds.pixel_array
    except (RuntimeError, NotImplementedError) as err:
        text = str(err)
        if "handler" in text.lower() or "decoder" in text.lower() or "plugin" in text.lower():
            name = UID(syntax).name
            raise MissingDecoderError(
                f"no decoder for transfer syntax {name} ({syntax}): {_CODEC_HINT}", [path]
            ) from err
        raise CorruptDicomError(f"pixel data cannot be decoded ({text})", [path]) from err
    except Exception as err:
        raise CorruptDicomError(f"pixel data cannot be decoded ({type(err).__name__}: {err})", [path]) from err
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    return arr.reshape(n_frames, int(ds.Rows), int(ds.Columns), *arr.shape[3 if n_frames > 1 else 2 :])


def _read_raw(fh, h: SliceHeader, buffer: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    fh.seek(h.pixel_offset)
    got = fh.readinto(buffer.data.cast("B"))
    if got != buffer.nbytes:
        raise CorruptDicomError(f"truncated pixel data: read {got} of {buffer.nbytes} bytes", [h.path])
    return buffer


def _read_mosaic(path: Path, tiles: list[SliceHeader], outs: list[np.ndarray]) -> None:
    """Read a mosaic's stored image once and copy each tile into its output slice."""
    first = tiles[0]
    assert first.mosaic is not None
    stored_header = dataclasses.replace(
        first, rows=first.mosaic.stored_rows, columns=first.mosaic.stored_columns, mosaic=None
    )
    if _can_read_raw(stored_header):
        buffer = np.empty((stored_header.rows, stored_header.columns), _raw_dtype(stored_header))
        with open(path, "rb") as fh:
            stored = _fix_bits(_read_raw(fh, stored_header, buffer), stored_header)
    else:
        stored = _decode_file(path, first.transfer_syntax)[0]
        if stored.shape != (stored_header.rows, stored_header.columns):
            raise InconsistentSeriesError(
                f"decoded mosaic has shape {stored.shape}, header says {(stored_header.rows, stored_header.columns)}",
                [path],
            )
    for h, out in zip(tiles, outs, strict=True):
        _rescale_into(out, tile_view(stored, h), h)


def read_pixels(headers: Sequence[SliceHeader], out: np.ndarray) -> None:
    """Fill ``out`` with the rescaled images of ``headers``, in the given order.

    Args:
        headers: images in the order they go into ``out``.
        out: ``(N, rows, cols)`` array of :func:`output_dtype`; ``out[n]`` receives image ``n``.

    Raises:
        MissingDecoderError: compressed data and no decoder for it.
        CorruptDicomError: truncated or undecodable pixel data.
        InconsistentSeriesError: an image has an unexpected size or sample format.
    """
    by_file: dict[Path, list[int]] = {}
    for index, h in enumerate(headers):
        by_file.setdefault(h.path, []).append(index)
    buffers: dict[tuple[np.dtype, int, int], np.ndarray] = {}
    for path, indices in by_file.items():
        first = headers[indices[0]]
        if first.mosaic is not None:
            _read_mosaic(path, [headers[i] for i in indices], [out[i] for i in indices])
            continue
        if first.samples_per_pixel != 1:
            raise InconsistentSeriesError(
                f"colour images (SamplesPerPixel {first.samples_per_pixel}) cannot form a scalar volume",
                [path],
            )
        if all(_can_read_raw(headers[i]) for i in indices):
            with open(path, "rb") as fh:
                for i in indices:
                    h = headers[i]
                    dtype = _raw_dtype(h)
                    buf = buffers.setdefault((dtype, h.rows, h.columns), np.empty((h.rows, h.columns), dtype))
                    _rescale_into(out[i], _fix_bits(_read_raw(fh, h, buf), h), h)
            continue
        frames = _decode_file(path, first.transfer_syntax)
        for i in indices:
            h = headers[i]
            frame = frames[h.frame or 0]
            if frame.shape != (h.rows, h.columns):
                raise InconsistentSeriesError(
                    f"decoded image has shape {frame.shape}, header says {(h.rows, h.columns)}", [path]
                )
            _rescale_into(out[i], frame, h)
