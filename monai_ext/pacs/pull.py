"""Pull one series from a PACS into the local cache, checked against what the server lists, resumable."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from monai_ext.pacs.cache import SeriesCache
from monai_ext.pacs.connection import PacsConnection, connect
from monai_ext.pacs.errors import IncompleteTransferError, PacsError, PacsNotFoundError, SeriesChangedError
from monai_ext.pacs.query import list_instances, series_record
from monai_ext.pacs.records import InstanceRecord, check_uid
from monai_ext.pacs.server import PacsServer

__all__ = ["PullProgress", "PulledSeries", "default_cache_dir", "pull_series"]

# (instances received so far in this pull, instances to receive in this pull)
PullProgress = Callable[[int, int], None]


@dataclass(frozen=True, kw_only=True)
class PulledSeries:
    """A series in the cache.

    Attributes:
        path: the folder holding exactly the series' instances (give it to ``load_dicom_series``).
        n_instances: how many instances the series has (as the server lists them).
        fetched: how many this pull received.
        reused: how many were already in the cache (a complete series, or a resumed pull).
        seconds: wall time of the pull.
    """

    path: Path
    n_instances: int
    fetched: int
    reused: int
    seconds: float


def default_cache_dir() -> Path:
    """``$MONAI_EXT_PACS_CACHE``, else ``$XDG_CACHE_HOME/monai-ext/pacs`` (``~/.cache/monai-ext/pacs``)."""
    if os.environ.get("MONAI_EXT_PACS_CACHE"):
        return Path(os.environ["MONAI_EXT_PACS_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "monai-ext" / "pacs"


def pull_series(
    server: PacsServer | PacsConnection,
    *,
    study_uid: str,
    series_uid: str,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: PullProgress | None = None,
) -> PulledSeries:
    """Retrieve a series into ``cache_dir`` (C-GET/C-MOVE or WADO-RS), or reuse it when already complete.

    The instances the server lists (C-FIND/QIDO at instance level, checked against the series' reported
    count) are compared with the cache: a complete copy is reused; an interrupted pull resumes with the
    missing instances only. After the transfer the server is asked again, so that a series that changed
    meanwhile is refused rather than cached half old, half new.

    Raises:
        PacsNotFoundError: no such study/series (or not a UID), or the series has no instances.
        PacsUnreachableError, PacsAuthError: the server does not answer or refuses us.
        SeriesChangedError: the server's instance list changed during the pull (pull again).
        IncompleteTransferError: the server sent fewer instances than it lists (pull again to resume).
    """
    start = time.perf_counter()
    check_uid(study_uid, "StudyInstanceUID")
    check_uid(series_uid, "SeriesInstanceUID")
    connection = connect(server) if isinstance(server, PacsServer) else server
    where = connection.server.display
    listing = _listing(connection, study_uid, series_uid)
    expected = {r.sop_uid for r in listing}
    cache = SeriesCache(cache_dir or default_cache_dir(), study_uid=study_uid, series_uid=series_uid, server=where)
    with cache.lock():
        if cache.complete_uids() == expected:
            return PulledSeries(path=cache.final, n_instances=len(expected), fetched=0, reused=len(expected), seconds=0)
        cache.prune(expected)
        cache.seed_from_complete(expected)
        present = cache.present()
        missing = sorted(expected - present)
        received, failed = _receive(connection, cache, listing, missing, resume=bool(present), progress=progress)
        try:
            after = {r.sop_uid for r in _listing(connection, study_uid, series_uid)}
        except PacsError as err:
            if received == set(missing):
                raise
            raise IncompleteTransferError(
                f"series {series_uid}: received {len(received)} of the {len(missing)} instances asked for, then "
                f"lost the server ({err.problem}); pull again to fetch only the missing ones",
                where,
            ) from err
        if after != expected:
            raise SeriesChangedError(
                f"series {series_uid} changed during the pull ({len(expected)} instances before, {len(after)} after, "
                f"{len(after ^ expected)} differ); pull again",
                where,
            )
        if failed or received != set(missing):
            raise IncompleteTransferError(
                f"series {series_uid}: received {len(received)} of the {len(missing)} instances asked for"
                + (f", the server reports {failed} failed" if failed else "")
                + "; pull again to fetch only the missing ones",
                where,
            )
        manifest = {
            "server": where,
            "study_uid": study_uid,
            "series_uid": series_uid,
            "n_instances": len(expected),
            "pulled_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        path = cache.commit(expected, manifest)
    return PulledSeries(
        path=path,
        n_instances=len(expected),
        fetched=len(received),
        reused=len(present),
        seconds=round(time.perf_counter() - start, 3),
    )


def _listing(connection: PacsConnection, study_uid: str, series_uid: str) -> list[InstanceRecord]:
    where = connection.server.display
    record = series_record(connection, study_uid, series_uid)
    listing = list_instances(connection, study_uid, series_uid)
    if not listing:
        raise PacsNotFoundError(f"series {series_uid} has no instances on the server", where)
    if record.n_instances is not None and record.n_instances != len(listing):
        raise SeriesChangedError(
            f"series {series_uid}: the server reports {record.n_instances} instances but lists {len(listing)} "
            "(still arriving?); pull again later",
            where,
        )
    return listing


def _receive(
    connection: PacsConnection,
    cache: SeriesCache,
    listing: list[InstanceRecord],
    missing: list[str],
    *,
    resume: bool,
    progress: PullProgress | None,
) -> tuple[set[str], int]:
    """Retrieve ``missing`` into the cache; returns the UIDs received and the server's count of failures."""
    wanted = set(missing)
    received: set[str] = set()

    def sink(sop_uid: str, data: bytes) -> None:
        if sop_uid not in wanted:
            raise SeriesChangedError(f"the server sent instance {sop_uid}, which it did not list", cache.server)
        cache.add(sop_uid, data)
        received.add(sop_uid)
        if progress is not None:
            progress(len(received), len(wanted))

    if not wanted:
        return received, 0
    classes = sorted({r.sop_class_uid for r in listing if r.sop_class_uid})
    failed = connection.retrieve(cache.study_uid, cache.series_uid, missing if resume else None, classes, sink)
    return received, failed
