"""The fast header reader gives exactly what the pydicom path gives, or hands over to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.data import get_testdata_files

from monai_ext.io.dicom.headers.header import header_from_dataset, header_from_fields
from monai_ext.io.dicom.headers.rawheader import parse_raw_header
from monai_ext.io.dicom.scan import _read_dataset, read_raw_header
from tests.conftest import SHARED_DATA


def _real_files() -> list[Path]:
    root = SHARED_DATA / "dicom"
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix not in (".txt", ".json"))


def _pydicom_files() -> list[Path]:
    return sorted(Path(p) for p in get_testdata_files() if Path(p).is_file())


def _both_paths(path: Path):
    data, raw = read_raw_header(path)
    if raw is None:
        return None, None
    fast = header_from_fields(raw.get, path, raw.transfer_syntax, raw.pixel_offset, raw.pixel_length)
    ds = _read_dataset(path, data)
    syntax = str(ds.file_meta.TransferSyntaxUID)
    return fast, header_from_dataset(ds, path, syntax)


@pytest.mark.realdata
def test_every_real_slice_takes_the_fast_path_and_matches_pydicom():
    files = _real_files()
    if not files:
        pytest.skip(f"real data not available under {SHARED_DATA}")
    images = [p for p in files if p.name != "DIRFILE"]
    assert len(images) >= 64 + 28 + 35 + 55  # the four series of the first data release, and later ones
    for path in images:
        fast, slow = _both_paths(path)
        assert fast is not None, f"fast path refused {path}"
        assert fast == slow, path


def test_pydicom_test_files_match_where_the_fast_path_applies():
    compared = 0
    for path in _pydicom_files():
        try:
            fast, slow = _both_paths(path)
        except Exception:  # files pydicom itself cannot parse are not the subject here
            continue
        if fast is None:
            continue
        assert fast == slow, path
        compared += 1
    assert compared >= 50


def test_header_longer_than_the_bytes_given_hands_over():
    path = next(p for p in _pydicom_files() if p.name == "CT_small.dcm")
    data = path.read_bytes()
    assert parse_raw_header(data) is not None
    assert parse_raw_header(data[:600]) is None
    assert parse_raw_header(b"\0" * 200) is None
