"""Bad input against a real Orthanc: unreachable server, refused credentials, wrong UIDs, a series that
changes during the pull, a partial transfer. Each ends in a typed error and nothing half-written in the cache."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pydicom
import pydicom.uid
import pytest

from monai_ext.pacs import (
    IncompleteTransferError,
    PacsAuthError,
    PacsNotFoundError,
    PacsServer,
    PacsUnreachableError,
    QueryFilters,
    SeriesChangedError,
    connect,
    parse_server,
    pull_series,
    query_studies,
)
from tests.pacs.conftest import SeriesOnServer, series_files, upload_renamed_copy
from tests.pacs.orthanc import Orthanc, free_port
from tests.pacs.proxy import CuttingProxy

pytestmark = pytest.mark.realdata


def _renumbered(data: bytes) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _cache_is_clean(cache: Path, series: SeriesOnServer) -> bool:
    return not (cache / series.study_uid / series.series_uid).exists()


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/dicom-web", "dimse://ORTHANC@127.0.0.1:{port}"])
def test_unreachable_server(url: str, tmp_path: Path) -> None:
    server = replace(parse_server(url.format(port=free_port())), timeout=5)
    with pytest.raises(PacsUnreachableError, match=r"127\.0\.0\.1"):
        query_studies(connect(server), QueryFilters())
    with pytest.raises(PacsUnreachableError):
        pull_series(server, study_uid="1.2.3", series_uid="1.2.3.4", cache_dir=tmp_path)
    assert not any(tmp_path.rglob("*.dcm"))


def test_refused_credentials(web: PacsServer) -> None:
    with pytest.raises(PacsAuthError, match="HTTP 401"):
        query_studies(connect(replace(web, password="wrong")), QueryFilters())


def test_wrong_uids(server: PacsServer, ct_on_server: SeriesOnServer, tmp_path: Path) -> None:
    absent = pydicom.uid.generate_uid()
    with pytest.raises(PacsNotFoundError, match=absent):
        pull_series(server, study_uid=ct_on_server.study_uid, series_uid=absent, cache_dir=tmp_path)
    with pytest.raises(PacsNotFoundError, match="not a DICOM UID"):
        pull_series(server, study_uid=ct_on_server.study_uid, series_uid="CT-series-1", cache_dir=tmp_path)
    assert not any(tmp_path.rglob("*.dcm"))


def test_series_changing_during_the_pull(
    server: PacsServer, orthanc: Orthanc, mr_on_server: SeriesOnServer, tmp_path: Path
) -> None:
    copy = upload_renamed_copy(orthanc, mr_on_server.folder, 6)
    extra = pydicom.dcmread(series_files(mr_on_server.folder)[6])
    extra.StudyInstanceUID, extra.SeriesInstanceUID = copy.study_uid, copy.series_uid
    extra.SOPInstanceUID = extra.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    buffer = io.BytesIO()
    extra.save_as(buffer, enforce_file_format=True)

    def scanner_sends_another_slice(done: int, _total: int) -> None:
        if done == 1:
            orthanc.upload_bytes(buffer.getvalue())

    uids = {"study_uid": copy.study_uid, "series_uid": copy.series_uid}
    with pytest.raises(SeriesChangedError, match="changed during the pull"):
        pull_series(server, **uids, cache_dir=tmp_path, progress=scanner_sends_another_slice)
    assert _cache_is_clean(tmp_path, copy)
    settled = pull_series(server, **uids, cache_dir=tmp_path)
    assert settled.n_instances == 7 and settled.fetched == 1 and settled.reused == 6
    orthanc.upload_bytes(_renumbered(buffer.getvalue()))  # later, one more slice: only that one is fetched
    grown = pull_series(server, **uids, cache_dir=tmp_path)
    assert (grown.n_instances, grown.fetched, grown.reused) == (8, 1, 7)
    assert len(list(grown.path.glob("*.dcm"))) == 8 and not (tmp_path / ".partial" / copy.series_uid).exists()


def _through_proxy(server: PacsServer, orthanc: Orthanc, proxy: CuttingProxy) -> PacsServer:
    if server.protocol == "dicomweb":
        return replace(server, url=server.url.replace(str(orthanc.http_port), str(proxy.port)))
    if server.retrieve == "move":  # the cut is on the link Orthanc sends the instances over
        return replace(server, move_port=proxy.target_port)
    return replace(server, port=proxy.port)


def test_partial_transfer(server: PacsServer, orthanc: Orthanc, mr_on_server: SeriesOnServer, tmp_path: Path) -> None:
    copy = upload_renamed_copy(orthanc, mr_on_server.folder, 8)  # about 260 kB per instance
    uids = {"study_uid": copy.study_uid, "series_uid": copy.series_uid}
    if server.protocol == "dimse" and server.retrieve == "move":
        proxy = CuttingProxy(target_port=free_port(), budget=700_000, port=orthanc.move_port)
    else:
        target = orthanc.http_port if server.protocol == "dicomweb" else orthanc.dicom_port
        proxy = CuttingProxy(target_port=target, budget=700_000)
    with proxy, pytest.raises(IncompleteTransferError):
        pull_series(_through_proxy(server, orthanc, proxy), **uids, cache_dir=tmp_path)
    assert _cache_is_clean(tmp_path, copy)
    kept = len(list((tmp_path / ".partial" / copy.series_uid).glob("*.dcm")))
    assert 0 < kept < 8  # the complete instances received before the cut are kept for a resume
    resumed = pull_series(server, **uids, cache_dir=tmp_path)
    assert (resumed.reused, resumed.fetched, resumed.n_instances) == (kept, 8 - kept, 8)
