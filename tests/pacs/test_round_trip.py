"""The whole round trip against the real Orthanc, over DICOMweb and over DIMSE: query, pull, infer with the
shipped adrenal classifier (its input is a gland label map: one derived on the CT's and on the MR's grid),
write SEG / Parametric Map / SR, store them back, query them, pull them back and check their references and
geometry against the source series; every object passes dciodvfy."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from monai_ext.cli.main import main
from monai_ext.pacs import PacsServer, QueryFilters, connect, pull_series, query_series
from tests.bundle.conftest import CLASSIFIER
from tests.pacs.conftest import SeriesOnServer
from tests.pacs.dicom_checks import (
    assert_on_source_grid,
    pmap_values,
    seg_masks,
    source_slices,
    sr_numbers,
    validate,
)
from tests.pacs.orthanc import Orthanc

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

SEG, PMAP, SR = "1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.30", "1.2.840.10008.5.1.4.1.1.88.34"


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_from_pacs_and_back(
    protocol: str,
    orthanc: Orthanc,
    web: PacsServer,
    dimse_get: PacsServer,
    ct_label_on_server: SeriesOnServer,
    mr_label_on_server: SeriesOnServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, series = (web, ct_label_on_server) if protocol == "dicomweb" else (dimse_get, mr_label_on_server)
    # Credentials from the environment, never from the command line or a bundle.
    monkeypatch.setenv("MONAI_EXT_PACS_USERNAME", orthanc.username)
    monkeypatch.setenv("MONAI_EXT_PACS_PASSWORD", orthanc.password)
    out, dicom_out = tmp_path / "out", tmp_path / "dicom"
    args = ["infer", "--bundle", str(CLASSIFIER), "--out", str(out), "--no-montage"]
    args += ["--pacs", server.url, "--study", series.study_uid, "--series", series.series_uid]
    args += ["--cache", str(tmp_path / "cache"), "--dicom-out", str(dicom_out), "--push-results"]
    assert main(args) == 0

    result = json.loads((out / "result.json").read_text())
    listing = json.loads((dicom_out / "dicom_results.json").read_text())
    written = listing["files"]
    if series is ct_label_on_server:  # TCIA gave every LIDC slice its own FrameOfReferenceUID: unified, with a warning
        assert any("64 different FrameOfReferenceUIDs" in w for w in listing["warnings"])
    assert set(written) == {"heatmap_pmap", "heatmap_seg", "report_sr"}
    report: list[str] = []
    for path in written.values():
        validate(Path(path), report)
    print("\n".join(report))  # dciodvfy warnings, shown with -s

    connection = connect(server)
    stored = [s for s in query_series(connection, QueryFilters(), study_uid=series.study_uid)]
    ours = {str(pydicom.dcmread(p, stop_before_pixels=True).SeriesInstanceUID): p for p in written.values()}
    assert set(ours) <= {s.series_uid for s in stored}
    back: dict[str, pydicom.Dataset] = {}
    for series_uid in ours:
        pulled = pull_series(server, study_uid=series.study_uid, series_uid=series_uid, cache_dir=tmp_path / "back")
        (file,) = pulled.path.glob("*.dcm")
        ds = pydicom.dcmread(file)
        back[str(ds.SOPClassUID)] = ds
        assert ds.SOPInstanceUID == pydicom.dcmread(ours[series_uid], stop_before_pixels=True).SOPInstanceUID

    slices = source_slices(series.folder)
    heatmap = np.asarray(nib.load(result["maps"]["heatmap"]).dataobj, dtype=np.float64)  # (I, J, K)
    frames = np.transpose(heatmap, (2, 1, 0))  # (K, rows, columns) in source order

    seg = back[SEG]
    assert_on_source_grid(seg, slices)
    assert seg.FrameOfReferenceUID == back[PMAP].FrameOfReferenceUID == slices[0].FrameOfReferenceUID
    (mask,) = seg_masks(seg, slices).values()
    np.testing.assert_array_equal(mask, (frames >= 0.5).astype(np.uint8))

    pmap = back[PMAP]
    assert_on_source_grid(pmap, slices)
    np.testing.assert_allclose(pmap_values(pmap, slices), frames, atol=1e-6)

    sr = back[SR]
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence
    assert series.series_uid in {str(item.SeriesInstanceUID) for item in evidence}
    numbers = sr_numbers(sr)
    for name, p in zip(result["class_names"], result["probabilities"], strict=True):
        assert numbers[f"Probability of {name}"] == pytest.approx(p, abs=1e-6)
