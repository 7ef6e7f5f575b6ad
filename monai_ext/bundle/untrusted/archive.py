"""Unpack a zipped bundle into a temporary copy: bytes counted as they are written, the copy always removed.

The declared sizes of a zip's entries are not trusted: :func:`extract_bundle` streams every entry, counts the
bytes it actually writes and stops at the cap. Entries that are absolute, climb out (``..``), are symlinks or
fail their CRC are refused. The copy lives as long as its :class:`ExtractedCopy` (close it, use it as a context
manager, or let it be collected): it is deleted on every exit path, including a failed extraction.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import weakref
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from types import TracebackType

from monai_ext.bundle.errors import BundleFileError, BundleLimitError

__all__ = ["MAX_ARCHIVE_ENTRIES", "MAX_EXTRACTED_BYTES", "ExtractedCopy", "extract_bundle"]

MAX_EXTRACTED_BYTES = 1 << 30  # a 2e8-parameter float32 network (the parameter budget) is 0.8 GB
MAX_ARCHIVE_ENTRIES = 10_000
_CHUNK = 1 << 20


class ExtractedCopy:
    """A temporary folder holding an extracted bundle; removed by :meth:`close` (or when collected).

    Args:
        path: the folder (owned from now on).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(path), True)

    def close(self) -> None:
        """Delete the folder (idempotent)."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        """Whether the folder was deleted."""
        return not self._finalizer.alive

    def __enter__(self) -> ExtractedCopy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def extract_bundle(archive: Path, *, max_bytes: int = MAX_EXTRACTED_BYTES) -> ExtractedCopy:
    """Extract ``archive`` into a new temporary folder.

    Args:
        archive: a ``.zip`` of a bundle folder (or of its contents).
        max_bytes: the most bytes written, counted as they are decompressed.

    Raises:
        BundleFileError: a bad archive (CRC, compression, encryption, a name outside the bundle, a symlink).
        BundleLimitError: it expands beyond ``max_bytes`` or holds more than :data:`MAX_ARCHIVE_ENTRIES` entries.
    """
    copy = ExtractedCopy(Path(tempfile.mkdtemp(prefix="monai_ext_bundle_")))
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            if len(members) > MAX_ARCHIVE_ENTRIES:
                raise BundleLimitError(f"the archive holds more than {MAX_ARCHIVE_ENTRIES} entries", archive)
            if sum(m.file_size for m in members) > max_bytes:  # honest sizes: refused before writing anything
                raise BundleLimitError(f"the archive declares more than {max_bytes} bytes", archive)
            written = 0
            for member in members:
                written = _extract_one(zf, member, copy.path, archive, written, max_bytes)
    except BaseException as err:
        copy.close()
        if isinstance(err, zipfile.BadZipFile | zlib.error | EOFError):
            raise BundleFileError(f"a damaged archive ({err})", archive) from err
        if isinstance(err, NotImplementedError | RuntimeError | OSError) and not isinstance(err, BundleFileError):
            raise BundleFileError(f"cannot extract the archive ({type(err).__name__}: {err})", archive) from err
        raise
    return copy


def _extract_one(
    zf: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path, archive: Path, written: int, max_bytes: int
) -> int:
    name = member.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if not name or "\x00" in name or name.startswith(("/", "\\")) or ".." in parts or ":" in name:
        raise BundleFileError(f"the archive entry {name!r} points outside the bundle", archive)
    if stat.S_ISLNK(member.external_attr >> 16):
        raise BundleFileError(f"the archive entry {name!r} is a symlink; bundles may not hold links", archive)
    destination = target.joinpath(*parts)
    if not destination.resolve().is_relative_to(target.resolve()):
        raise BundleFileError(f"the archive entry {name!r} points outside the bundle", archive)
    if member.is_dir():
        destination.mkdir(parents=True, exist_ok=True)
        return written
    destination.parent.mkdir(parents=True, exist_ok=True)
    with zf.open(member) as source, destination.open("xb") as sink:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise BundleLimitError(f"the archive expands to more than {max_bytes} bytes", archive)
            sink.write(chunk)
    return written
