"""A real Orthanc for the PACS tests (one per session), loaded with real series from ../shared/data."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pydicom
import pydicom.uid
import pytest

from monai_ext.pacs import PacsServer, parse_server
from tests.conftest import require_data
from tests.pacs.label_series import write_label_series
from tests.pacs.orthanc import DICOMWEB_PLUGIN, ORTHANC, Orthanc

CT_SLAB = "dicom/ct-chest-lidc0314-slab"
MR_T1 = "dicom/mr-head-t1-sag-siemens-prisma/dicom"


@dataclass(frozen=True)
class SeriesOnServer:
    """A series uploaded to the test Orthanc, and the folder it came from."""

    folder: Path
    study_uid: str
    series_uid: str
    n_instances: int
    orthanc_ids: tuple[str, ...] = ()


def series_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix == ".dcm")


def _identity(path: Path) -> tuple[str, str]:
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    return str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    """Orthanc 1.10 with DICOMweb on free 127.0.0.1 ports, temporary storage, basic auth; stopped at the end."""
    if ORTHANC is None:
        pytest.skip("Orthanc is not installed (Debian packages orthanc and orthanc-dicomweb)")
    if not DICOMWEB_PLUGIN.exists():
        pytest.skip(f"the Orthanc DICOMweb plugin is not installed ({DICOMWEB_PLUGIN}; Debian orthanc-dicomweb)")
    server = Orthanc(root=tmp_path_factory.mktemp("orthanc")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def ct_on_server(orthanc: Orthanc) -> SeriesOnServer:
    """The 64-slice LIDC chest CT slab (CC BY 3.0), uploaded."""
    folder = require_data(CT_SLAB)
    files = series_files(folder)
    ids = orthanc.upload(files)
    return SeriesOnServer(folder, *_identity(files[0]), len(files), tuple(ids))


@pytest.fixture(scope="session")
def mr_on_server(orthanc: Orthanc) -> SeriesOnServer:
    """The 35-slice Siemens Prisma T1 sagittal MR (BSD-2), uploaded."""
    folder = require_data(MR_T1)
    files = series_files(folder)
    ids = orthanc.upload(files)
    return SeriesOnServer(folder, *_identity(files[0]), len(files), tuple(ids))


@pytest.fixture(scope="session")
def ct_label_on_server(orthanc: Orthanc, tmp_path_factory: pytest.TempPathFactory) -> SeriesOnServer:
    """A gland label map on the LIDC CT slab's grid, uploaded into the CT's study (the adrenal bundles' input)."""
    return _upload_label_series(orthanc, require_data(CT_SLAB), tmp_path_factory.mktemp("ct-label"))


@pytest.fixture(scope="session")
def mr_label_on_server(orthanc: Orthanc, tmp_path_factory: pytest.TempPathFactory) -> SeriesOnServer:
    """A gland label map on the Prisma T1 MR's grid, uploaded into the MR's study."""
    return _upload_label_series(orthanc, require_data(MR_T1), tmp_path_factory.mktemp("mr-label"))


def _upload_label_series(orthanc: Orthanc, source: Path, out: Path) -> SeriesOnServer:
    files = write_label_series(source, out)
    ids = orthanc.upload(files)
    return SeriesOnServer(out, *_identity(files[0]), len(files), tuple(ids))


def upload_renamed_copy(orthanc: Orthanc, folder: Path, count: int) -> SeriesOnServer:
    """Upload the first ``count`` slices of a real series under new study/series/instance UIDs.

    Tests that change or damage a series on the server use such a copy, so the shared series stay intact.
    """
    study, series = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
    ids = []
    for path in series_files(folder)[:count]:
        ds = pydicom.dcmread(path)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        ids.append(orthanc.upload_bytes(buffer.getvalue()))
    return SeriesOnServer(folder, study, series, count, tuple(ids))


@pytest.fixture(scope="session")
def web(orthanc: Orthanc) -> PacsServer:
    """The test Orthanc over DICOMweb, with its credentials."""
    return replace(parse_server(orthanc.dicomweb_url), username=orthanc.username, password=orthanc.password)


@pytest.fixture(scope="session")
def dimse_get(orthanc: Orthanc) -> PacsServer:
    """The test Orthanc over DIMSE, retrieving by C-GET."""
    return parse_server(f"{orthanc.dimse_url}?calling_ae={orthanc.our_aet}")


@pytest.fixture(scope="session")
def dimse_move(orthanc: Orthanc) -> PacsServer:
    """The test Orthanc over DIMSE, retrieving by C-MOVE to our storage SCP."""
    return parse_server(f"{orthanc.dimse_url}?calling_ae={orthanc.our_aet}&retrieve=move&move_port={orthanc.move_port}")


@pytest.fixture(params=["dicomweb", "dimse-get", "dimse-move"])
def server(
    request: pytest.FixtureRequest, web: PacsServer, dimse_get: PacsServer, dimse_move: PacsServer
) -> PacsServer:
    """Each protocol in turn."""
    return {"dicomweb": web, "dimse-get": dimse_get, "dimse-move": dimse_move}[request.param]


def dciodvfy(path: Path) -> tuple[list[str], list[str]]:
    """Validate a DICOM file with dicom3tools' dciodvfy; returns (errors, warnings)."""
    tool = shutil.which("dciodvfy")
    if tool is None:
        pytest.skip("dciodvfy is not installed (Debian package dicom3tools)")
    run = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=120, check=False)
    lines = (run.stdout + run.stderr).splitlines()
    return [line for line in lines if line.startswith("Error")], [line for line in lines if line.startswith("Warning")]
