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

from monai_ext.io.dicom.headers.private_tags import PRIVATE_TAGS

__all__ = ["DECODABLE_VRS", "decode_raw", "fast_get", "tag_and_vr"]

_TEXT_VRS = frozenset({"UI", "CS", "DS", "IS", "DA", "TM", "AS", "DT", "LO", "SH", "LT"})
_BINARY_VRS = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d"}
DECODABLE_VRS = _TEXT_VRS | _BINARY_VRS.keys()


@functools.cache
def tag_and_vr(keyword: str) -> tuple[int, str]:
    """Tag (as an int) and dictionary VR of a DICOM keyword (or a pseudo-keyword of :data:`PRIVATE_TAGS`)."""
    if keyword in PRIVATE_TAGS:
        return PRIVATE_TAGS[keyword]
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


def decode_raw(raw: bytes, vr: str, little: bool = True) -> Any:
    """Decode the raw value bytes of a text or binary VR (one of :data:`DECODABLE_VRS`).

    Returns:
        ``str``/``list[str]`` for text VRs, ``int``/``float``/list for binary VRs; ``None`` when empty.
    """
    value = _decode_text(raw) if vr in _TEXT_VRS else _decode_binary(raw, _BINARY_VRS[vr], little)
    return None if value in ("", []) else value


def fast_get(ds: Dataset, keyword: str, default: Any = None) -> Any:
    """``ds.get(keyword, default)`` with raw numeric/code/UID values decoded directly.

    Returns:
        ``str`` or ``list[str]`` for text VRs (DS/IS stay text: callers parse them), ``int``/``float`` or a
        list for binary VRs, and pydicom's own value for everything else.
    """
    tag, vr = tag_and_vr(keyword)
    element = ds._dict.get(tag)  # type: ignore[call-overload]
    if element is None:
        return default
    if keyword in PRIVATE_TAGS:
        try:
            value = ds[tag].value if not getattr(element, "is_raw", False) else element.value
        except Exception:  # a malformed private value is as good as absent
            return default
        if isinstance(value, bytes):  # raw, or UN in an explicit-VR file: decode with the declared VR
            value = decode_raw(value, vr, getattr(element, "is_little_endian", True) is not False)
        return default if value is None else value
    if not getattr(element, "is_raw", False) or element.value is None or vr not in DECODABLE_VRS:
        return ds.get(keyword, default)
    value = decode_raw(element.value, vr, element.is_little_endian)
    return default if value is None else value
