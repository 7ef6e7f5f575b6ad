"""Fast access to plain header values, decoding pydicom's raw elements directly.

pydicom converts a raw element through several layers of hooks on first access; for the few dozen numeric,
code-string and UID tags a series loader reads from every slice, that conversion dominates the load time.
Here those value representations are decoded straight from the raw bytes; anything else (person names,
descriptions in other character sets, sequences) goes through pydicom as usual.
"""

from __future__ import annotations

import functools
import struct
from typing import Any

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset

__all__ = ["fast_get"]

_TEXT_VRS = frozenset({"UI", "CS", "DS", "IS", "DA", "TM", "AS", "DT"})
_BINARY_VRS = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d"}


@functools.cache
def _tag_and_vr(keyword: str) -> tuple[int, str]:
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(f"unknown DICOM keyword {keyword!r}")
    return int(tag), dictionary_VR(tag)


def _decode_text(raw: bytes) -> str | list[str]:
    parts = [p.strip(" \x00") for p in raw.decode("ascii", errors="replace").split("\\")]
    return parts[0] if len(parts) == 1 else parts


def _decode_binary(raw: bytes, code: str, little: bool) -> int | float | list[Any]:
    size = struct.calcsize(code)
    count = len(raw) // size
    values = list(struct.unpack(f"{'<' if little else '>'}{count}{code}", raw[: count * size]))
    return values[0] if count == 1 else values


def fast_get(ds: Dataset, keyword: str, default: Any = None) -> Any:
    """``ds.get(keyword, default)`` with raw numeric/code/UID values decoded directly.

    Returns:
        ``str`` or ``list[str]`` for text VRs (DS/IS stay text: callers parse them), ``int``/``float`` or a
        list for binary VRs, and pydicom's own value for everything else.
    """
    tag, vr = _tag_and_vr(keyword)
    element = ds._dict.get(tag)  # type: ignore[call-overload]
    if element is None:
        return default
    if not getattr(element, "is_raw", False) or element.value is None:
        return ds.get(keyword, default)
    value: Any
    if vr in _TEXT_VRS:
        value = _decode_text(element.value)
    elif vr in _BINARY_VRS:
        value = _decode_binary(element.value, _BINARY_VRS[vr], element.is_little_endian)
    else:
        return ds.get(keyword, default)
    return default if value == "" else value
