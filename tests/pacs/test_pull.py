"""Pull real series from Orthanc into the cache over DICOMweb, C-GET and C-MOVE; reuse and resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monai_ext.io.dicom.load import load_dicom_series
from monai_ext.pacs import PacsServer, pull_series
from tests.pacs.conftest import SeriesOnServer

pytestmark = pytest.mark.realdata


class InterruptedPullError(Exception):
    """Stands for Ctrl-C or a crash in the middle of a pull."""


def test_pull_matches_the_original_series(server: PacsServer, mr_on_server: SeriesOnServer, tmp_path: Path) -> None:
    pulled = pull_series(
        server, study_uid=mr_on_server.study_uid, series_uid=mr_on_server.series_uid, cache_dir=tmp_path
    )
    assert pulled.n_instances == pulled.fetched == 35 and pulled.reused == 0
    assert pulled.path == tmp_path / mr_on_server.study_uid / mr_on_server.series_uid
    assert len(list(pulled.path.glob("*.dcm"))) == 35
    assert not any((tmp_path / ".partial").glob("*/*.dcm"))
    original, cached = load_dicom_series(mr_on_server.folder), load_dicom_series(pulled.path)
    np.testing.assert_array_equal(cached.array, original.array)
    np.testing.assert_allclose(cached.affine, original.affine, atol=1e-6)
    again = pull_series(
        server, study_uid=mr_on_server.study_uid, series_uid=mr_on_server.series_uid, cache_dir=tmp_path
    )
    assert again.fetched == 0 and again.reused == 35 and again.path == pulled.path


@pytest.mark.parametrize("stop_after", [10])
def test_interrupted_pull_resumes_with_the_missing_instances(
    server: PacsServer, ct_on_server: SeriesOnServer, tmp_path: Path, stop_after: int
) -> None:
    def crash(done: int, _total: int) -> None:
        if done == stop_after:
            raise InterruptedPullError

    uids = {"study_uid": ct_on_server.study_uid, "series_uid": ct_on_server.series_uid}
    with pytest.raises(InterruptedPullError):
        pull_series(server, **uids, cache_dir=tmp_path, progress=crash)
    final = tmp_path / ct_on_server.study_uid / ct_on_server.series_uid
    assert not final.exists()  # nothing half-written where loaders look
    partial = list((tmp_path / ".partial" / ct_on_server.series_uid).glob("*.dcm"))
    assert len(partial) == stop_after
    seen: list[int] = []
    resumed = pull_series(server, **uids, cache_dir=tmp_path, progress=lambda done, total: seen.append(total))
    assert (resumed.fetched, resumed.reused, resumed.n_instances) == (54, 10, 64)
    assert set(seen) == {54}  # only the missing instances were asked for
    assert resumed.path == final and len(list(final.glob("*.dcm"))) == 64
    np.testing.assert_array_equal(load_dicom_series(final).array, load_dicom_series(ct_on_server.folder).array)


def test_two_pulls_of_one_series_at_once(web: PacsServer, mr_on_server: SeriesOnServer, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    uids = {"study_uid": mr_on_server.study_uid, "series_uid": mr_on_server.series_uid}
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: pull_series(web, **uids, cache_dir=tmp_path), range(2)))
    assert sorted(r.fetched for r in results) == [0, 35]  # the second waited for the first, then reused it
    assert len(list(results[0].path.glob("*.dcm"))) == 35
