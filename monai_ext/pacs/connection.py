"""One interface for both protocols: find, retrieve into a sink, store; :func:`connect` picks the protocol."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, Protocol

from pydicom.dataset import Dataset

from monai_ext.pacs.server import PacsServer

__all__ = ["Level", "PacsConnection", "Sink", "connect"]

Level = Literal["STUDY", "SERIES", "IMAGE"]
# Called once per received instance with its SOPInstanceUID and its DICOM Part 10 bytes.
Sink = Callable[[str, bytes], None]


class PacsConnection(Protocol):
    """What the query, pull and push code needs from a server, whatever the protocol."""

    server: PacsServer

    def find(self, level: Level, keys: dict[str, str]) -> list[Dataset]:
        """Match ``keys`` (keyword -> value; empty values are return keys) at ``level``."""
        ...

    def retrieve(
        self, study_uid: str, series_uid: str, sop_uids: Sequence[str] | None, sop_classes: Sequence[str], sink: Sink
    ) -> int:
        """Send every instance of the series (or only ``sop_uids``) to ``sink``; returns how many the server
        reports it failed to send."""
        ...

    def store(self, files: Sequence[Path]) -> None:
        """Store DICOM files on the server (STOW-RS or C-STORE)."""
        ...


def connect(server: PacsServer) -> PacsConnection:
    """A connection object for ``server``'s protocol (connections are opened per operation)."""
    if server.protocol == "dicomweb":
        from monai_ext.pacs.dicomweb import DicomwebConnection

        return DicomwebConnection(server)
    from monai_ext.pacs.dimse import DimseConnection

    return DimseConnection(server)
