"""``monai-ext pacs query / pull / push`` and the Slicer worker's ``dicom_out`` against the real Orthanc."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from monai_ext.bundle.runner import run_bundle
from monai_ext.cli.main import main
from monai_ext.io.dicom.load import load_dicom_series
from monai_ext.io.nifti import save_nifti
from tests.bundle.conftest import CLASSIFIER
from tests.pacs.conftest import SeriesOnServer, series_files
from tests.pacs.dicom_checks import validate
from tests.pacs.label_series import write_label_series
from tests.pacs.orthanc import Orthanc, free_port

pytestmark = pytest.mark.realdata


@pytest.fixture
def credentials(orthanc: Orthanc, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONAI_EXT_PACS_USERNAME", orthanc.username)
    monkeypatch.setenv("MONAI_EXT_PACS_PASSWORD", orthanc.password)


@pytest.mark.usefixtures("credentials")
def test_query_pull_push(
    orthanc: Orthanc,
    ct_on_server: SeriesOnServer,
    mr_on_server: SeriesOnServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    web = ["--pacs", orthanc.dicomweb_url]
    assert main(["pacs", "query", *web, "--patient-id", "LIDC*", "--json"]) == 0
    studies = json.loads(capsys.readouterr().out)["results"]
    assert [s["study_uid"] for s in studies] == [ct_on_server.study_uid]
    assert main(["pacs", "query", "--pacs", orthanc.dimse_url, "--study", ct_on_server.study_uid, "--json"]) == 0
    series = json.loads(capsys.readouterr().out)["results"]
    assert ct_on_server.series_uid in {s["series_uid"] for s in series}
    uids = ["--study", ct_on_server.study_uid, "--series", ct_on_server.series_uid]
    assert main(["pacs", "pull", *web, *uids, "--cache", str(tmp_path), "--json"]) == 0
    pulled = json.loads(capsys.readouterr().out)
    assert pulled["n_instances"] == pulled["fetched"] == 64 and Path(pulled["path"]).is_dir()

    assert main(["pacs", "pull", *web, *uids, "--cache", str(tmp_path)]) == 0  # reused, fetches nothing
    assert "0 fetched, 64 already cached" in capsys.readouterr().out

    folder, study, series_uid = tmp_path / "to-push", generate_uid(), generate_uid()
    folder.mkdir()
    for index, path in enumerate(series_files(mr_on_server.folder)[:2]):  # a new series of two MR slices
        ds = pydicom.dcmread(path)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series_uid
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.save_as(folder / f"{index}.dcm")
    assert main(["pacs", "push", "--pacs", orthanc.dimse_url, str(folder)]) == 0
    assert "stored 2 file(s)" in capsys.readouterr().out
    assert main(["pacs", "query", *web, "--study", study, "--json"]) == 0
    assert [s["n_instances"] for s in json.loads(capsys.readouterr().out)["results"]] == [2]


def test_errors_are_one_line(
    ct_on_server: SeriesOnServer, orthanc: Orthanc, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}/dicom-web"
    assert main(["pacs", "query", "--pacs", url]) == 2
    assert capsys.readouterr().err.startswith("error: PacsUnreachableError: the DICOMweb server does not answer")
    bad = ["--study", ct_on_server.study_uid, "--series", "1.2.3.4.5"]
    assert main(["pacs", "pull", "--pacs", orthanc.dimse_url, *bad]) == 2
    assert "PacsNotFoundError: no series 1.2.3.4.5" in capsys.readouterr().err


def test_infer_arguments_are_checked(tmp_path: Path, mr_t1_sag: Path) -> None:
    base = ["infer", "--bundle", str(CLASSIFIER), "--out", str(tmp_path)]
    with pytest.raises(SystemExit, match="either INPUT or --study"):
        main([*base, str(mr_t1_sag), "--study", "1.2", "--series", "1.2.3"])
    with pytest.raises(SystemExit, match="--push-results needs --dicom-out"):
        main([*base, str(mr_t1_sag), "--push-results"])


@pytest.mark.slow
def test_slicer_worker_writes_dicom(mr_t1_sag: Path, tmp_path: Path) -> None:
    # As the Slicer module runs it: the volume node exported to NIfTI, its DICOM files named by the node. The
    # classifier's input is a gland label map: a labelmap series on the MR's grid.
    labels = tmp_path / "labels"
    write_label_series(mr_t1_sag, labels)
    exported = save_nifti(load_dicom_series(labels), tmp_path / "volume.nii.gz", sidecar=False)
    request = {
        "bundlePath": str(CLASSIFIER),
        "inputPath": str(exported),
        "outputDir": str(tmp_path / "out"),
        "dicom_out": str(tmp_path / "dicom"),
        "dicom_source": [str(p) for p in series_files(labels)],
    }
    summary = run_bundle(request)
    files = summary["dicom"]["files"]
    assert set(files) == {"heatmap_pmap", "heatmap_seg", "report_sr"}
    source_uid = pydicom.dcmread(next(labels.glob("*.dcm")), stop_before_pixels=True).SeriesInstanceUID
    for path in files.values():
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        referenced = (
            ds.get("ReferencedSeriesSequence")
            or ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence
        )
        assert source_uid in {item.SeriesInstanceUID for item in referenced}
        validate(Path(path), [])
