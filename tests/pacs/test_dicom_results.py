"""DICOM results from the shared segmentation contract (a label NIfTI written here), on a real MR series,
without a server: SEG segments and colours, SR volumes, references, dciodvfy, and refused inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pydicom
import pytest

from monai_ext.dicom_results import DicomResultError, GridMismatchError, read_source_series, write_dicom_results
from monai_ext.io.dicom.load import load_dicom_series
from monai_ext.io.errors import MissingSliceError
from monai_ext.io.nifti import save_nifti
from monai_ext.io.volume import Volume
from tests.pacs.dicom_checks import (
    assert_on_source_grid,
    pmap_values,
    seg_masks,
    source_slices,
    sr_numbers,
    validate,
)

pytestmark = pytest.mark.realdata


def _labels(shape: tuple[int, ...]) -> np.ndarray:
    labels = np.zeros(shape, np.uint8)
    labels[40:90, 60:120, 10:20] = 1
    labels[100:140, 100:130, 12:30] = 2
    return labels


def _contract(path: Path, labels: np.ndarray, voxel_mm3: float, kind: str = "labels") -> dict[str, Any]:
    names = {1: ("anterior", [230, 25, 75]), 2: ("posterior", [0, 130, 200])}
    entries = []
    for value, (name, color) in names.items():
        mask = labels == value if kind == "labels" else labels[..., value - 1] > 0
        voxels = int(mask.sum())
        index = value if kind == "labels" else value - 1
        entries.append(
            {"value": index, "name": name, "color": color, "voxels": voxels, "volume_mm3": voxels * voxel_mm3}
        )
    return {
        "bundle": {"name": "hippocampus test", "version": "1.0", "weights_sha256": "0" * 64},
        "maps": {},
        "heatmaps": [],
        "class_names": [],
        "probabilities": [],
        "segmentations": {"pred": {"path": str(path), "kind": kind, "labels": entries}},
    }


def test_label_map_as_seg_and_volumes_in_sr(mr_t1_sag: Path, tmp_path: Path) -> None:
    volume = load_dicom_series(mr_t1_sag)
    labels = _labels(volume.shape)
    nifti = save_nifti(Volume(array=labels, affine=volume.affine), tmp_path / "pred.nii.gz", sidecar=False)
    voxel = float(abs(np.linalg.det(volume.affine[:3, :3])))
    written = write_dicom_results(_contract(nifti, labels, voxel), mr_t1_sag, tmp_path / "dicom")
    assert set(written.files) == {"pred_seg", "report_sr"} and written.warnings == []
    for path in written.files.values():
        validate(Path(path), [])
    slices = source_slices(mr_t1_sag)
    seg = pydicom.dcmread(written.files["pred_seg"])
    assert_on_source_grid(seg, slices)
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["anterior", "posterior"]
    stored = hd.color.CIELabColor.from_dicom_value(tuple(seg.SegmentSequence[1].RecommendedDisplayCIELabValue))
    assert np.abs(np.subtract(stored.to_rgb(), (0, 130, 200))).max() <= 1
    masks = seg_masks(seg, slices)
    frames = np.transpose(labels, (2, 1, 0))
    for number in (1, 2):
        np.testing.assert_array_equal(masks[number], (frames == number).astype(np.uint8))
    sr = pydicom.dcmread(written.files["report_sr"])
    assert "Volume" in sr_numbers(sr)
    report = hd.sr.Comprehensive3DSR.from_dataset(sr)
    groups = report.content.get_volumetric_roi_measurement_groups()
    assert len(groups) == 2
    for group, value in zip(groups, (1, 2), strict=True):
        assert group.referenced_segment.referenced_sop_instance_uid == seg.SOPInstanceUID
        assert group.referenced_segment.referenced_segment_numbers == [value]
        assert group.get_measurements()[0].value == pytest.approx((labels == value).sum() * voxel, rel=1e-6)
    listing = json.loads((tmp_path / "dicom" / "dicom_results.json").read_text())
    assert listing["source_series"] == slices[0].SeriesInstanceUID


def test_probability_maps_become_parametric_maps(mr_t1_sag: Path, tmp_path: Path) -> None:
    volume = load_dicom_series(mr_t1_sag)
    labels = _labels(volume.shape)
    nifti = save_nifti(Volume(array=labels, affine=volume.affine), tmp_path / "pred.nii.gz", sidecar=False)
    probability = (labels == 1).astype(np.float32) * 0.9
    prob = save_nifti(
        Volume(array=probability, affine=volume.affine), tmp_path / "pred_prob_anterior.nii.gz", sidecar=False
    )
    summary = _contract(nifti, labels, 1.0)
    summary["segmentations"]["pred"]["labels"][0]["probability_map"] = str(prob)
    summary["maps"]["pred_prob_anterior"] = str(prob)
    summary["heatmaps"] = ["pred_prob_anterior"]
    written = write_dicom_results(summary, mr_t1_sag, tmp_path / "dicom")
    assert set(written.files) == {"pred_seg", "pred_prob_anterior_pmap", "report_sr"}  # no thresholded SEG
    slices = source_slices(mr_t1_sag)
    pmap = pydicom.dcmread(written.files["pred_prob_anterior_pmap"])
    assert_on_source_grid(pmap, slices)
    np.testing.assert_allclose(pmap_values(pmap, slices), np.transpose(probability, (2, 1, 0)), atol=1e-4)


def test_multilabel_masks_may_overlap(mr_t1_sag: Path, tmp_path: Path) -> None:
    volume = load_dicom_series(mr_t1_sag)
    masks = np.zeros((*volume.shape, 2), np.uint8)
    masks[40:90, 60:120, 10:20, 0] = 1
    masks[60:100, 60:120, 15:25, 1] = 1  # overlaps the first region
    nifti = save_nifti(Volume(array=masks, affine=volume.affine), tmp_path / "pred.nii.gz", sidecar=False)
    summary = _contract(nifti, masks, 1.0, kind="multilabel")
    written = write_dicom_results(summary, mr_t1_sag, tmp_path / "dicom")
    seg = pydicom.dcmread(written.files["pred_seg"])
    rebuilt = seg_masks(seg, source_slices(mr_t1_sag))
    for channel in (0, 1):
        np.testing.assert_array_equal(rebuilt[channel + 1], np.transpose(masks[..., channel], (2, 1, 0)))


def test_map_off_the_source_grid_is_refused(mr_t1_sag: Path, tmp_path: Path) -> None:
    volume = load_dicom_series(mr_t1_sag)
    labels = _labels(volume.shape)
    shifted = volume.affine.copy()
    shifted[:3, 3] += 0.5
    nifti = save_nifti(Volume(array=labels, affine=shifted), tmp_path / "pred.nii.gz", sidecar=False)
    with pytest.raises(GridMismatchError, match=r"pred: its affine is 0\.5 mm away"):
        write_dicom_results(_contract(nifti, labels, 1.0), mr_t1_sag, tmp_path / "dicom")
    assert not (tmp_path / "dicom" / "pred_seg.dcm").exists()


def test_source_without_a_regular_grid_is_refused(mr_t2_missing: Path) -> None:
    # Results must lie on source frames; a series with a missing slice has no regular grid of them.
    with pytest.raises(MissingSliceError, match="missing") as caught:
        read_source_series(mr_t2_missing)
    assert caught.value.files


def test_nothing_to_write_is_an_error(mr_t1_sag: Path, tmp_path: Path) -> None:
    source = read_source_series(mr_t1_sag)
    summary = {"bundle": {"name": "x"}, "maps": {}, "heatmaps": ["heatmap"], "probabilities": []}
    with pytest.raises(DicomResultError, match="heatmap 'heatmap' has no file"):
        write_dicom_results(summary, source, tmp_path)


@pytest.mark.parametrize(("method", "title"), [("occlusion", "heatmap (occlusion)"), (None, "heatmap")])
def test_the_heatmap_objects_name_the_method_that_made_the_map(
    mr_t1_sag: Path, tmp_path: Path, method: str | None, title: str
) -> None:
    """After an empty Grad-CAM map the runner may hand in the occlusion map (``heatmap_method``): the Parametric
    Map's series and the thresholded SEG's segment say so, so a PACS reader cannot take it for a Grad-CAM map."""
    volume = load_dicom_series(mr_t1_sag)
    heat = np.zeros(volume.shape, np.float32)
    heat[40:90, 60:120, 10:20] = 0.8
    path = save_nifti(Volume(array=heat, affine=volume.affine), tmp_path / "heatmap.nii.gz", sidecar=False)
    summary = {
        "bundle": {"name": "adrenal test", "version": "1.0", "weights_sha256": "0" * 64},
        "maps": {"heatmap": str(path)},
        "heatmaps": ["heatmap"],
        "heatmap_method": method,
        "class_names": ["normal", "hyperplasia"],
        "probabilities": [0.4, 0.6],
    }
    written = write_dicom_results(summary, mr_t1_sag, tmp_path / "dicom")
    assert set(written.files) == {"heatmap_pmap", "heatmap_seg", "report_sr"}
    pmap = pydicom.dcmread(written.files["heatmap_pmap"])
    assert pmap.SeriesDescription == title and pmap.ContentDescription.startswith(title)
    mapping = pmap.SharedFunctionalGroupsSequence[0].RealWorldValueMappingSequence[0]
    assert mapping.LUTLabel == "heatmap"  # the map's name, not its method
    seg = pydicom.dcmread(written.files["heatmap_seg"])
    assert [s.SegmentLabel for s in seg.SegmentSequence] == [f"{title} >= 0.5"]
    for file in (written.files["heatmap_pmap"], written.files["heatmap_seg"]):
        validate(Path(file), [])
