"""DICOMweb access with ``dicomweb-client``: QIDO-RS queries, WADO-RS retrieval (streamed), STOW-RS storage."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pydicom
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset

from monai_ext.pacs.connection import Level, Sink
from monai_ext.pacs.errors import (
    IncompleteTransferError,
    PacsAuthError,
    PacsError,
    PacsNotFoundError,
    PacsProtocolError,
    PacsUnreachableError,
)
from monai_ext.pacs.server import PacsServer

__all__ = ["DicomwebConnection", "dataset_bytes"]

T = TypeVar("T")
# Any transfer syntax the server holds: no transcoding on the server, our loader decodes.
_ANY_SYNTAX = (("application/dicom", "*"),)
# Instances fetched one by one (a resumed pull) go over this many concurrent requests.
_PARALLEL_REQUESTS = 4


def dataset_bytes(ds: Dataset) -> bytes:
    """``ds`` as DICOM Part 10 bytes (preamble and file meta included)."""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


class _WildcardSession(requests.Session):
    """Sends the DICOM wildcards ``*`` and ``?`` of query values unencoded.

    ``dicomweb-client`` percent-encodes them (``%2A``); Orthanc 1.10's DICOMweb plugin then matches them
    literally and finds nothing. Both characters are legal in a URL query (RFC 3986, section 3.4).
    """

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if request.url and "?" in request.url:
            path, _, query = request.url.partition("?")
            request.url = f"{path}?{query.replace('%2A', '*').replace('%3F', '?')}"
        return super().send(request, **kwargs)


class DicomwebConnection:
    """A DICOMweb server (one HTTP session per connection object).

    Args:
        server: a ``dicomweb`` :class:`PacsServer`.
    """

    def __init__(self, server: PacsServer) -> None:
        self.server = server
        session = _WildcardSession()
        if server.username:
            session.auth = (server.username, server.password or "")
        self._client = DICOMwebClient(url=server.url, session=session, timeout=server.timeout)
        # Three attempts 0.5 s and 1 s apart (the default, five with 1-16 s back-off, keeps a user waiting a
        # minute on a server that is down).
        self._client.set_http_retry_params(retry=True, max_attempts=3, wait_exponential_multiplier=250)

    def find(self, level: Level, keys: dict[str, str]) -> list[Dataset]:
        """QIDO-RS search; empty keys are requested as fields (``includefield``)."""
        filters = {k: v for k, v in keys.items() if v}
        fields = [k for k, v in keys.items() if not v]
        study, series = filters.pop("StudyInstanceUID", None), filters.pop("SeriesInstanceUID", None)
        if level == "STUDY":
            if study:
                filters["StudyInstanceUID"] = study
            found = self._call(self._client.search_for_studies, search_filters=filters, fields=fields)
        elif level == "SERIES":
            if series:
                filters["SeriesInstanceUID"] = series
            found = self._call(
                self._client.search_for_series, study_instance_uid=study, search_filters=filters, fields=fields
            )
        else:
            found = self._call(
                self._client.search_for_instances,
                study_instance_uid=study,
                series_instance_uid=series,
                search_filters=filters,
                fields=fields,
                get_remaining=True,
            )
        return [Dataset.from_json(item) for item in found]

    def retrieve(
        self, study_uid: str, series_uid: str, sop_uids: Sequence[str] | None, sop_classes: Sequence[str], sink: Sink
    ) -> int:
        """WADO-RS: the whole series as one streamed multipart response, or instance by instance (4 at a time)."""
        if sop_uids is None:
            with self._errors():
                for ds in self._client.iter_series(study_uid, series_uid, media_types=_ANY_SYNTAX):
                    sink(str(ds.SOPInstanceUID), dataset_bytes(ds))
            return 0
        lock = threading.Lock()
        local = threading.local()

        def fetch(sop_uid: str) -> None:
            if not hasattr(local, "connection"):  # one HTTP session per worker thread
                local.connection = DicomwebConnection(self.server)
            client = local.connection._client
            ds = self._call(client.retrieve_instance, study_uid, series_uid, sop_uid, media_types=_ANY_SYNTAX)
            data = dataset_bytes(ds)
            with lock:
                sink(sop_uid, data)

        with ThreadPoolExecutor(max_workers=_PARALLEL_REQUESTS) as pool:
            futures = [pool.submit(fetch, uid) for uid in sop_uids]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                for future in futures:  # stop at the first failure: requests not yet started are dropped
                    future.cancel()
                raise
        return 0

    def store(self, files: Sequence[Path]) -> None:
        """STOW-RS of the files (one request per study)."""
        by_study: dict[str, list[Dataset]] = {}
        for path in files:
            ds = pydicom.dcmread(path)
            by_study.setdefault(str(ds.StudyInstanceUID), []).append(ds)
        for study_uid, datasets in by_study.items():
            response = self._call(self._client.store_instances, datasets, study_instance_uid=study_uid)
            failed = response.get("FailedSOPSequence") if response is not None else None
            if failed:
                reasons = ", ".join(f"{item.ReferencedSOPInstanceUID}: {item.get('FailureReason')}" for item in failed)
                raise PacsProtocolError(
                    f"the server refused {len(failed)} instance(s) ({reasons})", self.server.display
                )

    def _call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._errors():
            return method(*args, **kwargs)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        where = self.server.display
        try:
            yield
        except PacsError:
            raise
        except requests.exceptions.ChunkedEncodingError as err:
            raise IncompleteTransferError(f"the transfer broke off ({err})", where) from err
        except (requests.ConnectionError, requests.Timeout) as err:
            raise PacsUnreachableError(f"the DICOMweb server does not answer ({type(err).__name__})", where) from err
        except requests.HTTPError as err:
            status = err.response.status_code if err.response is not None else 0
            if status in (401, 403):
                raise PacsAuthError(f"the server refused the credentials (HTTP {status})", where) from err
            if status == 404:
                raise PacsNotFoundError("the server has no such study, series or instance (HTTP 404)", where) from err
            raise PacsProtocolError(f"the server answered HTTP {status}", where) from err
        except (requests.RequestException, ValueError) as err:
            raise PacsProtocolError(f"unexpected answer from the server: {err}", where) from err
