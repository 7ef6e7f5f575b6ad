"""The local series cache: complete series only, written atomically, resumable after an interruption.

Layout under the cache root::

    <StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm   a complete series (what loaders read)
    <StudyInstanceUID>/<SeriesInstanceUID>.json                   how and when it was pulled
    .partial/<SeriesInstanceUID>/<SOPInstanceUID>.dcm             a pull in progress (or interrupted)
    .partial/<SeriesInstanceUID>.lock                             held while a pull runs

Each instance lands in the partial folder through a temporary file and a rename, so a file there is
always complete; a later pull keeps them and fetches only the others. When every instance the server
lists is present the partial folder is renamed to its final place in one step: a series folder in the
cache is never half-written.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pydicom
from pydicom.errors import InvalidDicomError

try:  # POSIX; on Windows two pulls of the same series are not serialised (each instance is still atomic)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

from monai_ext.io.atomic import atomic_path, atomic_write_text
from monai_ext.pacs.errors import IncompleteTransferError, PacsProtocolError, SeriesChangedError

__all__ = ["SeriesCache"]

_SUFFIX = ".dcm"


class SeriesCache:
    """One series' place in the cache.

    Args:
        root: the cache root (created when needed).
        study_uid, series_uid: the series.
        server: shown in errors.
    """

    def __init__(self, root: str | os.PathLike[str], *, study_uid: str, series_uid: str, server: str = "") -> None:
        self.root = Path(root)
        self.study_uid = study_uid
        self.series_uid = series_uid
        self.server = server
        self.final = self.root / study_uid / series_uid
        self.manifest = self.root / study_uid / f"{series_uid}.json"
        self.partial = self.root / ".partial" / series_uid

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the series' lock file (another pull of the same series waits)."""
        path = self.partial.with_suffix(".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def complete_uids(self) -> set[str]:
        """SOPInstanceUIDs of the complete series in the cache (empty when it is not there)."""
        return _uids(self.final)

    def present(self) -> set[str]:
        """SOPInstanceUIDs already received by an unfinished pull."""
        return _uids(self.partial)

    def seed_from_complete(self, keep: set[str]) -> int:
        """Link the instances of an older complete copy that are still in the series into the partial folder.

        A series that gained instances since it was cached then transfers only the new ones. Returns how
        many were linked (copied where hard links are not possible).
        """
        reuse = (self.complete_uids() & keep) - self.present()
        if reuse:
            self.partial.mkdir(parents=True, exist_ok=True)
        for uid in reuse:
            source, target = self.final / f"{uid}{_SUFFIX}", self.partial / f"{uid}{_SUFFIX}"
            try:
                os.link(source, target)
            except OSError:
                with atomic_path(target) as tmp:
                    shutil.copyfile(source, tmp)
        return len(reuse)

    def prune(self, keep: set[str]) -> int:
        """Delete partial instances that are no longer in the series; returns how many."""
        stale = self.present() - keep
        for uid in stale:
            (self.partial / f"{uid}{_SUFFIX}").unlink(missing_ok=True)
        return len(stale)

    def add(self, sop_uid: str, data: bytes) -> Path:
        """Check one received instance (its UIDs) and write it into the partial folder atomically.

        Raises:
            SeriesChangedError: it belongs to another study or series.
            PacsProtocolError: it is not DICOM, or its SOPInstanceUID is not the one announced.
        """
        try:
            ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
        except (InvalidDicomError, EOFError, ValueError) as err:
            raise PacsProtocolError(f"received a broken instance {sop_uid}: {err}", self.server) from err
        got = (str(ds.get("StudyInstanceUID", "")), str(ds.get("SeriesInstanceUID", "")))
        if got != (self.study_uid, self.series_uid):
            raise SeriesChangedError(f"received instance {sop_uid} of another series {got[1]}", self.server)
        if str(ds.get("SOPInstanceUID", "")) != sop_uid:
            raise PacsProtocolError(f"instance announced as {sop_uid} holds {ds.get('SOPInstanceUID')}", self.server)
        self.partial.mkdir(parents=True, exist_ok=True)
        target = self.partial / f"{sop_uid}{_SUFFIX}"
        with atomic_path(target) as tmp:
            tmp.write_bytes(data)
        return target

    def commit(self, expected: set[str], manifest: dict[str, Any]) -> Path:
        """Move the partial folder into place once it holds exactly ``expected``; returns the series folder.

        Raises:
            IncompleteTransferError: instances are missing (they stay in the partial folder for a resume).
        """
        present = self.present()
        missing = expected - present
        if missing:
            raise IncompleteTransferError(
                f"series {self.series_uid}: received {len(present & expected)} of {len(expected)} instances, "
                f"{len(missing)} missing (pull again to fetch only those)",
                self.server,
            )
        self.prune(expected)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        old = None
        if self.final.exists():
            old = self.partial.with_name(f"{self.series_uid}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(self.final, old)
        os.replace(self.partial, self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        atomic_write_text(self.manifest, json.dumps(manifest, indent=2) + "\n")
        return self.final


def _uids(folder: Path) -> set[str]:
    if not folder.is_dir():
        return set()
    return {
        p.name[: -len(_SUFFIX)] for p in folder.iterdir() if p.name.endswith(_SUFFIX) and not p.name.startswith(".")
    }
