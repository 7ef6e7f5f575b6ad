"""The series cache on its own: what it accepts, and that a series folder only appears complete."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from monai_ext.pacs import IncompleteTransferError, PacsProtocolError, SeriesCache, SeriesChangedError
from tests.pacs.conftest import series_files

pytestmark = pytest.mark.realdata


def _cache(root: Path, folder: Path) -> tuple[SeriesCache, list[Path]]:
    files = series_files(folder)[:3]
    ds = pydicom.dcmread(files[0], stop_before_pixels=True)
    return SeriesCache(root, study_uid=str(ds.StudyInstanceUID), series_uid=str(ds.SeriesInstanceUID)), files


def _uid(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def test_instances_are_checked(mr_t1_sag: Path, ct_slab: Path, tmp_path: Path) -> None:
    cache, files = _cache(tmp_path, mr_t1_sag)
    other = series_files(ct_slab)[0]
    with pytest.raises(SeriesChangedError, match="another series"):
        cache.add(_uid(other), other.read_bytes())
    with pytest.raises(PacsProtocolError, match="holds"):
        cache.add("1.2.3", files[0].read_bytes())
    with pytest.raises(PacsProtocolError, match="broken instance"):
        cache.add(_uid(files[0]), files[0].read_bytes()[:100])
    assert cache.present() == set()


def test_commit_only_when_complete(mr_t1_sag: Path, tmp_path: Path) -> None:
    cache, files = _cache(tmp_path, mr_t1_sag)
    uids = {_uid(p) for p in files}
    for path in files[:2]:
        cache.add(_uid(path), path.read_bytes())
    with pytest.raises(IncompleteTransferError, match="2 of 3"):
        cache.commit(uids, {})
    assert not cache.final.exists() and len(cache.present()) == 2
    cache.add(_uid(files[2]), files[2].read_bytes())
    assert cache.commit(uids, {"n": 3}) == cache.final
    assert cache.complete_uids() == uids and not cache.partial.exists() and cache.manifest.is_file()
    assert all(p.read_bytes() == (cache.final / f"{_uid(p)}.dcm").read_bytes() for p in files)  # byte for byte
