"""A small typed reader of the Siemens CSA header (the private (0029,1010)/(0029,1020) OB elements).

pydicom leaves these elements as bytes. The format (as documented by the Siemens-format readers of nibabel and
dcm2niix): version 2 starts with ``SV10``, four unused bytes, the tag count (uint32) and the constant 77; version
1 starts directly with the tag count. Each tag is a 64-byte NUL-terminated name, VM (int32), a 4-byte VR, a
SyngoDT (int32), an item count (int32) and a check word (int32); each item is four int32 (the second, or for
version 1 the first minus the tag's item count, is the value length) followed by the value text, padded to
four bytes. Values are text; numbers are parsed by the caller.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

__all__ = ["CsaElement", "CsaError", "csa_float", "csa_floats", "csa_int", "parse_csa"]

_TAG = struct.Struct("<64si4s3i")
_ITEM = struct.Struct("<4i")
_MAX_TAGS = 1000
_MAX_ITEMS = 10000


class CsaError(ValueError):
    """The bytes are not a well-formed CSA header."""


@dataclass(frozen=True)
class CsaElement:
    """One CSA tag: its name, VR, VM and its non-empty item values as text."""

    name: str
    vr: str
    vm: int
    values: tuple[str, ...]


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


def parse_csa(data: bytes) -> dict[str, CsaElement]:
    """Parse a CSA header.

    Args:
        data: the element's bytes.

    Returns:
        Tag name -> :class:`CsaElement`.

    Raises:
        CsaError: truncated, or counts and lengths that do not fit the bytes.

    Example:
        >>> parse_csa(b"SV10" + bytes(4) + b"\\x00" * 8)  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        ...
        CsaError: CSA header claims 0 tags
    """
    version2 = data[:4] == b"SV10"
    pos = 8 if version2 else 0
    if len(data) < pos + 8:
        raise CsaError(f"CSA header of {len(data)} bytes is too short")
    (count,) = struct.unpack_from("<I", data, pos)
    pos += 8
    if not 0 < count <= _MAX_TAGS:
        raise CsaError(f"CSA header claims {count} tags")
    out: dict[str, CsaElement] = {}
    for _ in range(count):
        if pos + _TAG.size > len(data):
            raise CsaError("CSA header truncated inside a tag")
        name, vm, vr, _syngo, n_items, _check = _TAG.unpack_from(data, pos)
        pos += _TAG.size
        if not 0 <= n_items <= _MAX_ITEMS:
            raise CsaError(f"CSA tag {_text(name)!r} claims {n_items} items")
        values = []
        for _item in range(n_items):
            if pos + _ITEM.size > len(data):
                raise CsaError("CSA header truncated inside an item")
            words = _ITEM.unpack_from(data, pos)
            pos += _ITEM.size
            length = words[1] if version2 else words[0] - n_items
            if length < 0 or pos + length > len(data):
                if version2:
                    raise CsaError(f"CSA item of {length} bytes runs past the header")
                break  # version 1 pads unused items with lengths that do not fit: stop reading this tag
            text = _text(data[pos : pos + length])
            pos += (length + 3) // 4 * 4
            if text:
                values.append(text)
        key = _text(name)
        out[key] = CsaElement(name=key, vr=_text(vr), vm=int(vm), values=tuple(values))
    return out


def csa_floats(csa: dict[str, CsaElement], name: str) -> tuple[float, ...] | None:
    """The values of tag ``name`` as floats, ``None`` when absent, not numeric or not finite."""
    element = csa.get(name)
    if element is None or not element.values:
        return None
    try:
        values = tuple(float(v) for v in element.values)
    except ValueError:
        return None
    return values if all(math.isfinite(v) for v in values) else None


def csa_float(csa: dict[str, CsaElement], name: str) -> float | None:
    """The first value of tag ``name`` as a float."""
    values = csa_floats(csa, name)
    return values[0] if values else None


def csa_int(csa: dict[str, CsaElement], name: str) -> int | None:
    """The first value of tag ``name`` as an int."""
    value = csa_float(csa, name)
    return int(value) if value is not None and value.is_integer() else None
