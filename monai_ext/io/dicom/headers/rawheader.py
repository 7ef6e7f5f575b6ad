"""A minimal, fast reader of the top-level header elements a series loader needs.

pydicom builds a full ``Dataset`` for every file, which is most of the time spent loading a series of
hundreds of slices. This reader walks the element stream of a little-endian file with ``struct`` only,
keeps the raw bytes of the tags listed in :data:`WANTED`, skips everything else (sequences included) and
stops at the pixel data, whose offset and length it records. It handles the common case only; for
anything else it returns ``None`` and the caller falls back to pydicom: big-endian or deflated transfer
syntaxes, multi-frame objects (their geometry lives in sequences), a header longer than the bytes given,
or any structure it does not understand. Tests check that both paths give identical headers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from monai_ext.io.dicom.headers.diffusion_tags import DIFFUSION_KEYWORDS
from monai_ext.io.dicom.headers.fastget import DECODABLE_VRS, decode_raw, tag_and_vr
from monai_ext.io.dicom.headers.header import HEADER_KEYWORDS

__all__ = ["RawHeader", "media_sop_class", "parse_raw_header"]

_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV", b"UV"})
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})
_IMPLICIT_LE, _EXPLICIT_BE, _DEFLATED = "1.2.840.10008.1.2", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"
_MULTIFRAME_TAGS = frozenset({0x52009229, 0x52009230})  # shared / per-frame functional groups
_MAX_DEPTH = 8


WANTED = {keyword: tag_and_vr(keyword) for keyword in (*HEADER_KEYWORDS, *DIFFUSION_KEYWORDS)}
assert all(vr in DECODABLE_VRS for _, vr in WANTED.values())
_WANTED_TAGS = frozenset(tag for tag, _ in WANTED.values())


class _UnsupportedError(Exception):
    """Internal: the fast path does not handle this file; use pydicom."""


@dataclass(frozen=True)
class RawHeader:
    """The wanted elements of one file, as raw bytes, and where its pixel data is.

    Attributes:
        transfer_syntax: the file's transfer syntax UID.
        media_sop_class: ``MediaStorageSOPClassUID`` from the file meta group.
        elements: tag -> raw value bytes, for the tags of :data:`WANTED` present at the top level.
        has_pixel_data: a pixel data element (integer, float or double) was reached.
        pixel_offset: file offset of native pixel data, ``None`` for encapsulated (compressed) data.
        pixel_length: its length in bytes, ``None`` for encapsulated data.
        encapsulated_offset: file offset of the first item of encapsulated pixel data, else ``None``.
    """

    transfer_syntax: str
    media_sop_class: str
    elements: dict[int, bytes]
    has_pixel_data: bool
    pixel_offset: int | None
    pixel_length: int | None
    encapsulated_offset: int | None = None

    def get(self, keyword: str, default: Any = None) -> Any:
        """Value of a :data:`WANTED` keyword: ``str``/``list[str]`` for text, numbers for binary VRs."""
        tag, vr = WANTED[keyword]
        raw = self.elements.get(tag)
        value = None if raw is None else decode_raw(raw, vr)
        return default if value is None else value

    def __contains__(self, keyword: str) -> bool:
        return WANTED[keyword][0] in self.elements


class _Reader:
    """Cursor over the header bytes; raises :class:`_UnsupportedError` on anything unexpected."""

    def __init__(self, data: bytes, pos: int, implicit: bool) -> None:
        self.data, self.pos, self.implicit = data, pos, implicit

    def need(self, count: int) -> None:
        if self.pos + count > len(self.data):
            raise _UnsupportedError("header runs past the bytes read")

    def element_header(self) -> tuple[int, bytes | None, int]:
        """Tag, VR (``None`` when implicit) and value length of the next element."""
        self.need(8)
        group, elem = struct.unpack_from("<HH", self.data, self.pos)
        tag = (group << 16) | elem
        if group == 0xFFFE or self.implicit:
            (length,) = struct.unpack_from("<I", self.data, self.pos + 4)
            self.pos += 8
            return tag, None, length
        vr = self.data[self.pos + 4 : self.pos + 6]
        if vr in _LONG_VRS:
            self.need(12)
            (length,) = struct.unpack_from("<I", self.data, self.pos + 8)
            self.pos += 12
        else:
            (length,) = struct.unpack_from("<H", self.data, self.pos + 6)
            self.pos += 8
        if not vr.isalpha():
            raise _UnsupportedError(f"invalid VR bytes {vr!r}")
        return tag, vr, length

    def skip_undefined(self, vr: bytes | None, depth: int) -> None:
        """Skip a sequence of undefined length (nested items walked element by element)."""
        if vr == b"UN" or depth > _MAX_DEPTH:
            raise _UnsupportedError("UN of undefined length or deeply nested sequences")
        while True:
            tag, _, length = self.element_header()
            if tag == _SEQUENCE_END:
                return
            if tag != _ITEM:
                raise _UnsupportedError(f"unexpected tag {tag:08X} in a sequence")
            if length != _UNDEFINED:
                self.need(length)
                self.pos += length
                continue
            self.skip_dataset(depth + 1)

    def skip_dataset(self, depth: int) -> None:
        """Skip the elements of an item of undefined length, up to its delimiter."""
        while True:
            tag, vr, length = self.element_header()
            if tag == _ITEM_END:
                return
            if length == _UNDEFINED:
                self.skip_undefined(vr, depth)
            else:
                self.need(length)
                self.pos += length


def _file_meta(data: bytes) -> tuple[str, str, int]:
    """Transfer syntax, media SOP class and the offset where the dataset starts."""
    reader = _Reader(data, 132, implicit=False)
    meta: dict[int, bytes] = {}
    while reader.pos + 4 <= len(data) and struct.unpack_from("<H", data, reader.pos)[0] == 0x0002:
        tag, _, length = reader.element_header()
        reader.need(length)
        meta[tag] = data[reader.pos : reader.pos + length]
        reader.pos += length
    syntax = meta.get(0x00020010, b"").decode("ascii", "replace").strip(" \x00")
    sop = meta.get(0x00020002, b"").decode("ascii", "replace").strip(" \x00")
    if not syntax:
        raise _UnsupportedError("no transfer syntax in the file meta group")
    return syntax, sop, reader.pos


def media_sop_class(data: bytes) -> str | None:
    """``MediaStorageSOPClassUID`` from the file meta group at the start of ``data``, else ``None``."""
    if data[128:132] != b"DICM":
        return None
    try:
        return _file_meta(data)[1] or None
    except (_UnsupportedError, struct.error, UnicodeDecodeError):
        return None


def _walk(data: bytes, start: int, syntax: str) -> RawHeader:
    """The top-level element loop, inlined (it runs ~150 times per file); sequences go through :class:`_Reader`."""
    implicit = syntax == _IMPLICIT_LE
    reader = _Reader(data, start, implicit=implicit)
    elements: dict[int, bytes] = {}
    size, pos, unpack = len(data), start, struct.unpack_from
    while pos < size:
        if pos + 8 > size:
            raise _UnsupportedError("header runs past the bytes read")
        group, elem = unpack("<HH", data, pos)
        tag = (group << 16) | elem
        vr: bytes | None = None
        if group == 0xFFFE or implicit:
            (length,) = unpack("<I", data, pos + 4)
            pos += 8
        else:
            vr = data[pos + 4 : pos + 6]
            if vr in _LONG_VRS:
                if pos + 12 > size:
                    raise _UnsupportedError("header runs past the bytes read")
                (length,) = unpack("<I", data, pos + 8)
                pos += 12
            else:
                (length,) = unpack("<H", data, pos + 6)
                pos += 8
            if not vr.isalpha():
                raise _UnsupportedError(f"invalid VR bytes {vr!r}")
        if tag in _MULTIFRAME_TAGS:
            raise _UnsupportedError("functional groups: multi-frame object")
        if tag in _PIXEL_TAGS:
            if length != _UNDEFINED:
                return RawHeader(syntax, "", elements, True, pos, length)
            return RawHeader(syntax, "", elements, True, None, None, encapsulated_offset=pos)
        if length == _UNDEFINED:
            reader.pos = pos
            reader.skip_undefined(vr, 0)
            pos = reader.pos
            continue
        if tag in _WANTED_TAGS:
            if pos + length > size:
                raise _UnsupportedError("header runs past the bytes read")
            elements[tag] = data[pos : pos + length]
        pos += length
    raise _UnsupportedError("no pixel data in the bytes read")


def parse_raw_header(data: bytes) -> RawHeader | None:
    """Parse the header in ``data`` (the first bytes of a file with a DICM preamble).

    Args:
        data: the beginning of the file, enough to reach the pixel data element.

    Returns:
        The :class:`RawHeader`, or ``None`` when the file needs pydicom (see the module docstring).
    """
    if data[128:132] != b"DICM":
        return None
    try:
        syntax, sop, start = _file_meta(data)
        if syntax in (_EXPLICIT_BE, _DEFLATED):
            return None
        header = _walk(data, start, syntax)
        frames = header.get("NumberOfFrames")
        if frames is not None and str(frames).strip() not in ("", "1"):
            return None
    except (_UnsupportedError, struct.error, UnicodeDecodeError):
        return None
    return RawHeader(
        header.transfer_syntax,
        sop,
        header.elements,
        True,
        header.pixel_offset,
        header.pixel_length,
        header.encapsulated_offset,
    )
