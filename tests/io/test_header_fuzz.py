"""Random damage to real DICOM headers: the loader either loads or raises a typed DicomError, nothing else."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monai_ext.io import DicomError, load_dicom_series, scan
from monai_ext.io.volume import Volume

pytestmark = pytest.mark.realdata

N_SLICES = 4


@pytest.fixture(scope="module")
def phantom_slices(ct_phantom):
    """Four consecutive real phantom slices (the first four by file name) and the header size of each."""
    files = sorted(p for p in ct_phantom.iterdir() if p.name.startswith("I"))[:N_SLICES]
    headers = []
    for path in files:
        data = path.read_bytes()
        headers.append(data.index(b"\xe0\x7f\x10\x00"))  # PixelData tag: the header ends there
    return files, headers


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns about the damaged values
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    victim=st.integers(0, N_SLICES - 1),
    position=st.floats(0.0, 1.0),
    junk=st.binary(min_size=1, max_size=16),
    truncate=st.booleans(),
)
def test_damaged_header_gives_volume_or_typed_error(phantom_slices, victim, position, junk, truncate):
    files, header_sizes = phantom_slices
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for path in files:
            shutil.copy(path, folder / path.name)
        target = folder / files[victim].name
        data = bytearray(target.read_bytes())
        offset = 132 + int(position * (header_sizes[victim] - 132))
        if truncate:
            del data[offset:]
        else:
            data[offset : offset + len(junk)] = junk
        target.write_bytes(bytes(data))
        try:
            outcome: Volume | DicomError = load_dicom_series(folder)
        except DicomError as err:
            outcome = err
        if isinstance(outcome, Volume):
            assert outcome.array.shape[:2] == (512, 512)
            assert np.all(np.isfinite(outcome.affine))
        else:
            assert outcome.files, f"{type(outcome).__name__} names no file: {outcome}"
        result = scan(folder)  # listing never raises either
        assert len(result.series) + len(result.skipped) >= 1


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=600))
def test_csa_parser_returns_elements_or_a_typed_error(data):
    from monai_ext.io.dicom.headers.csa import CsaError, parse_csa

    try:
        parsed = parse_csa(b"SV10\x04\x03\x02\x01" + data if data[:1] == b"\x01" else data)
    except CsaError:
        return
    assert all(isinstance(v.values, tuple) for v in parsed.values())


@pytest.fixture(scope="module")
def mosaic_file(tmp_path_factory):
    """A tiny Siemens mosaic (5 slices of 6x5 in 3x3 tiles) and the offset of its CSA header in the file."""
    from tests.io.synthetic_mr import write_mosaic

    folder = tmp_path_factory.mktemp("mosaic")
    truth = np.arange(5 * 6 * 5, dtype=np.uint16).reshape(5, 6, 5)
    write_mosaic(folder, truth, n_time=1)
    path = next(folder.iterdir())
    data = path.read_bytes()
    return path, data.index(b"SV10")


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(0, 400), junk=st.binary(min_size=1, max_size=12))
def test_damaged_mosaic_csa_gives_the_unpacked_volume_or_a_typed_error(mosaic_file, position, junk):
    source, csa_offset = mosaic_file
    with tempfile.TemporaryDirectory() as tmp:
        data = bytearray(source.read_bytes())
        offset = csa_offset + position
        data[offset : offset + len(junk)] = junk
        (Path(tmp) / source.name).write_bytes(bytes(data))
        try:
            outcome: Volume | DicomError = load_dicom_series(tmp)
        except DicomError as err:
            outcome = err
        if isinstance(outcome, Volume):  # never the whole tile image as one slice
            assert outcome.shape[:2] == (5, 6) and outcome.shape[2] >= 1
            assert np.all(np.isfinite(outcome.affine))
        else:
            assert outcome.files


@pytest.fixture(scope="module")
def diffusion_series(tmp_path_factory):
    """A tiny 3-volume GE-style diffusion series (2 slices) whose files the fuzz test damages."""
    from tests.io.synthetic_mr import write_4d

    folder = tmp_path_factory.mktemp("dwi")
    data = np.arange(3 * 2 * 6 * 5, dtype=np.uint16).reshape(3, 2, 6, 5)

    def tags(t, k):
        private = {
            0x00190010: ("LO", "GEMS_ACQU_01"),
            0x001910BB: ("DS", ["0", "1", "0.6"][t]),
            0x001910BC: ("DS", ["0", "0", "0.8"][t]),
            0x001910BD: ("DS", "0"),
            0x00430010: ("LO", "GEMS_PARM_01"),
            0x00431039: ("IS", [["0", "8", "0", "0"], ["1000001000", "8", "0", "0"], ["1000", "8", "0", "0"]][t]),
        }
        return {"Manufacturer": "GE MEDICAL SYSTEMS", "private": private}

    write_4d(folder, data, tags)
    clean = load_dicom_series(folder)  # undamaged: GE private b-values (flags in the high digits) and directions
    assert clean.shape == (5, 6, 2, 3) and clean.meta["b_values"] == [0.0, 1000.0, 1000.0]
    files = sorted(folder.iterdir())
    return files, [p.read_bytes().index(b"\xe0\x7f\x10\x00") for p in files]


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(victim=st.integers(0, 5), position=st.floats(0.0, 1.0), junk=st.binary(min_size=1, max_size=12))
def test_damaged_4d_diffusion_header_gives_volume_or_typed_error(diffusion_series, victim, position, junk):
    files, header_sizes = diffusion_series
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for path in files:
            shutil.copy(path, folder / path.name)
        target = folder / files[victim].name
        data = bytearray(target.read_bytes())
        offset = 132 + int(position * (header_sizes[victim] - 132))
        data[offset : offset + len(junk)] = junk
        target.write_bytes(bytes(data))
        try:
            outcome: Volume | DicomError = load_dicom_series(folder, allow_unreadable=True)
        except DicomError as err:
            outcome = err
        if isinstance(outcome, Volume):
            assert outcome.shape[:2] == (5, 6) and np.all(np.isfinite(outcome.affine))
        else:
            assert outcome.files, f"{type(outcome).__name__} names no file: {outcome}"
