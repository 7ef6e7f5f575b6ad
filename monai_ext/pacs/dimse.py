"""DIMSE access with ``pynetdicom``: C-FIND queries, C-GET or C-MOVE retrieval, C-STORE storage.

C-GET brings the instances back over the association we open (nothing listens on our side); C-MOVE asks
the PACS to send them to our AE title, which the PACS must know with our host and ``move_port``, where a
storage SCP listens for the duration of the retrieval.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pynetdicom import AE, build_role, evt
from pynetdicom.association import Association
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from monai_ext.pacs.connection import Level, Sink
from monai_ext.pacs.errors import (
    IncompleteTransferError,
    PacsAuthError,
    PacsError,
    PacsProtocolError,
    PacsUnreachableError,
)
from monai_ext.pacs.server import PacsServer

__all__ = ["TRANSFER_SYNTAXES", "DimseConnection"]

# What our loader decodes (uncompressed; JPEG, JPEG-LS, JPEG 2000 and RLE with the `codecs` extra).
TRANSFER_SYNTAXES = [
    "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    "1.2.840.10008.1.2",  # Implicit VR Little Endian
    "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
    "1.2.840.10008.1.2.2",  # Explicit VR Big Endian
    "1.2.840.10008.1.2.4.50",  # JPEG Baseline
    "1.2.840.10008.1.2.4.51",  # JPEG Extended
    "1.2.840.10008.1.2.4.57",  # JPEG Lossless
    "1.2.840.10008.1.2.4.70",  # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
    "1.2.840.10008.1.2.4.81",  # JPEG-LS Near-lossless
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 Lossless
    "1.2.840.10008.1.2.4.91",  # JPEG 2000
    "1.2.840.10008.1.2.5",  # RLE Lossless
]
_PENDING = (0xFF00, 0xFF01)
_WARNING = (0x0001, 0xB000, 0xB006, 0xB007)
_OUT_OF_RESOURCES = 0xA700
_SUBOPERATIONS_FAILED = (0xA701, 0xA702, 0xFE00)


class DimseConnection:
    """A DIMSE peer; each operation opens and releases its own association.

    Args:
        server: a ``dimse`` :class:`PacsServer`.
    """

    def __init__(self, server: PacsServer) -> None:
        self.server = server

    def find(self, level: Level, keys: dict[str, str]) -> list[Dataset]:
        """C-FIND (Study Root) at ``level``; returns the matches' identifiers."""
        identifier = _identifier(level, keys)
        found = []
        with self._association([StudyRootQueryRetrieveInformationModelFind]) as assoc:
            for status, match in assoc.send_c_find(identifier, StudyRootQueryRetrieveInformationModelFind):
                code = self._status(status, "C-FIND")
                if code in _PENDING and match is not None:
                    found.append(match)
        return found

    def retrieve(
        self, study_uid: str, series_uid: str, sop_uids: Sequence[str] | None, sop_classes: Sequence[str], sink: Sink
    ) -> int:
        """C-GET or C-MOVE of the series (``sop_uids``: only these, by UID list matching at IMAGE level)."""
        keys = {"StudyInstanceUID": study_uid, "SeriesInstanceUID": series_uid}
        if sop_uids is not None:
            if not sop_uids:
                return 0
            keys["SOPInstanceUID"] = "\\".join(sop_uids)
        identifier = _identifier("IMAGE" if sop_uids is not None else "SERIES", keys)
        store = _StoreHandler(sink)
        retrieve, what = (self._move, "C-MOVE") if self.server.retrieve == "move" else (self._get, "C-GET")
        try:
            final = retrieve(identifier, sorted(set(sop_classes)), store)
        except PacsError:
            store.raise_error()  # our side stopped the transfer: that error, not the server's reaction to it
            raise
        store.raise_error()
        if final is None:
            raise IncompleteTransferError(f"{what}: no final status (the transfer broke off)", self.server.display)
        return int(final.get("NumberOfFailedSuboperations", 0) or 0)

    def _get(self, identifier: Dataset, sop_classes: list[str], store: _StoreHandler) -> Dataset | None:
        roles = [build_role(uid, scp_role=True) for uid in sop_classes]
        contexts: list[tuple[str, list[str]]] = [(StudyRootQueryRetrieveInformationModelGet, TRANSFER_SYNTAXES[:4])]
        contexts += [(uid, TRANSFER_SYNTAXES) for uid in sop_classes]
        handlers = [(evt.EVT_C_STORE, store)]
        with self._association(contexts, roles=roles, handlers=handlers) as assoc:
            return self._final(assoc.send_c_get(identifier, StudyRootQueryRetrieveInformationModelGet), "C-GET")

    def _move(self, identifier: Dataset, sop_classes: list[str], store: _StoreHandler) -> Dataset | None:
        scp = AE(ae_title=self.server.calling_ae)
        for uid in sop_classes:
            scp.add_supported_context(uid, TRANSFER_SYNTAXES)
        bind = "127.0.0.1" if self.server.host in ("127.0.0.1", "localhost", "::1") else ""
        try:
            listener = scp.start_server(
                (bind, self.server.move_port), block=False, evt_handlers=[(evt.EVT_C_STORE, store)]
            )
        except OSError as err:
            raise PacsProtocolError(f"cannot listen on port {self.server.move_port} for C-MOVE: {err}") from err
        try:
            with self._association([StudyRootQueryRetrieveInformationModelMove]) as assoc:
                responses = assoc.send_c_move(
                    identifier, self.server.calling_ae, StudyRootQueryRetrieveInformationModelMove
                )
                return self._final(responses, "C-MOVE")
        finally:
            if listener is not None:
                listener.shutdown()

    def store(self, files: Sequence[Path]) -> None:
        """C-STORE every file (its own SOP class and transfer syntax); raises on the first refusal."""
        datasets = [pydicom.dcmread(path) for path in files]
        pairs = sorted({(str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID)) for ds in datasets})
        contexts = [(uid, [syntax]) for uid, syntax in pairs]
        with self._association(contexts) as assoc:
            for path, ds in zip(files, datasets, strict=True):
                try:
                    self._status(assoc.send_c_store(ds), "C-STORE")
                except PacsProtocolError as err:
                    raise PacsProtocolError(f"{path}: {err.problem}", self.server.display) from err

    def _final(self, responses: Iterator[tuple[Dataset, Dataset | None]], what: str) -> Dataset | None:
        final = None
        for status, _identifier in responses:
            code = self._status(status, what)
            if code not in _PENDING:
                final = status
        return final

    def _status(self, status: Dataset, what: str) -> int:
        where = self.server.display
        retrieving = what in ("C-GET", "C-MOVE")
        if not status:
            if retrieving:
                raise IncompleteTransferError(f"{what}: the transfer broke off (association aborted, timed out)", where)
            raise PacsUnreachableError(f"{what}: the connection timed out, was aborted or got a bad answer", where)
        code = int(status.Status)
        if code in (0x0000, *_PENDING, *_WARNING):
            return code
        comment = status.get("ErrorComment", "")
        if retrieving and (code in _SUBOPERATIONS_FAILED or "NumberOfFailedSuboperations" in status):
            counts = ", ".join(
                f"{status.get(f'NumberOf{kind}Suboperations', '?')} {kind.lower()}"
                for kind in ("Completed", "Failed", "Warning")
            )
            raise IncompleteTransferError(f"{what} ended with status 0x{code:04X} ({counts})", where)
        if code == 0xA801:
            raise PacsProtocolError(f"{what}: the PACS does not know the move destination {self.server.calling_ae}")
        raise PacsProtocolError(f"{what} failed with status 0x{code:04X} {comment}".rstrip(), where)

    @contextmanager
    def _association(
        self,
        contexts: Sequence[Any],
        *,
        roles: list[Any] | None = None,
        handlers: list[Any] | None = None,
    ) -> Iterator[Association]:
        ae = AE(ae_title=self.server.calling_ae)
        for item in contexts:
            uid, syntaxes = item if isinstance(item, tuple) else (item, TRANSFER_SYNTAXES[:4])
            ae.add_requested_context(uid, syntaxes)
        timeout = self.server.timeout
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = timeout
        where = self.server.display
        assoc = ae.associate(
            self.server.host,
            self.server.port,
            ae_title=self.server.called_ae,
            ext_neg=roles or None,
            evt_handlers=handlers or None,
        )
        if assoc.is_rejected:
            raise PacsAuthError(f"the PACS rejected the association from AE title {self.server.calling_ae!r}", where)
        if not assoc.is_established:
            raise PacsUnreachableError("no DICOM association (connection refused, timed out or aborted)", where)
        try:
            yield assoc
        except BaseException:
            assoc.abort()
            raise
        assoc.release()


class _StoreHandler:
    """The C-STORE handler: hands each instance to the sink; a failing sink refuses that instance and its
    error is raised after the retrieval."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def __call__(self, event: Any) -> int:
        with self._lock:
            if self.error is not None:
                return _OUT_OF_RESOURCES
            try:
                self.sink(str(event.request.AffectedSOPInstanceUID), event.encoded_dataset())
            except Exception as err:  # handed back to the caller by raise_error
                self.error = err
                return _OUT_OF_RESOURCES
        return 0x0000

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error


def _identifier(level: Level, keys: dict[str, str]) -> Dataset:
    identifier = Dataset()
    identifier.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(identifier, keyword, value)
    return identifier
