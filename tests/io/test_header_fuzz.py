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
