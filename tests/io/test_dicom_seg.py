"""DICOM SEG onto its CT: highdicom writes a real SEG of a real (written) CT series; the reader puts it back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from monai_ext.data.scanner_grid import scanner_affine
from monai_ext.io.dicom.load import load_dicom_series
from monai_ext.io.dicom.write import write_dicom_series
from monai_ext.io.dicom_seg import DicomSegError, load_dicom_seg

hd = pytest.importorskip("highdicom")


def write_seg(ct_files: list[Path], labels: np.ndarray, path: Path, names: dict[int, str]) -> Path:
    """A binary SEG (one segment per label value) of ``labels`` ``(I, J, K)`` on the CT files (in slice order)."""
    from pydicom.sr.codedict import codes

    sources = [pydicom.dcmread(f) for f in ct_files]
    for ds in sources:  # the example writer leaves the patient/study modules out; the SEG copies them
        for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime"):
            setattr(ds, keyword, getattr(ds, keyword, ""))
        for keyword in ("ReferringPhysicianName", "AccessionNumber", "StudyID"):
            setattr(ds, keyword, getattr(ds, keyword, ""))
    frames = np.stack([(labels[:, :, k].T[None] == np.array(list(names))[:, None, None]) for k in range(len(sources))])
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=n + 1,
            segment_label=name,
            segmented_property_category=codes.SCT.Organ,
            segmented_property_type=codes.SCT.AdrenalGland,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for n, name in enumerate(names.values())
    ]
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=np.moveaxis(frames, 1, -1).astype(np.uint8),  # (frames, rows, cols, segments)
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=99,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="monai-ext tests",
        manufacturer_model_name="none",
        software_versions="0",
        device_serial_number="0",
    )
    seg.save_as(path)
    return path


@pytest.fixture
def ct_and_seg(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    shape = (48, 40, 12)
    affine = scanner_affine(shape=shape, spacing=(0.8, 0.8, 2.5), degrees=(0.0, 0.0, 10.0))
    ct = np.full(shape, -100, dtype=np.int16)
    labels = np.zeros(shape, dtype=np.uint8)
    labels[5:15, 8:20, 3:7] = 1
    labels[30:40, 10:25, 5:9] = 2
    write_dicom_series(ct, affine, tmp_path / "ct")
    files = load_dicom_series(tmp_path / "ct").meta["source_files"]
    seg = write_seg(
        [Path(f) for f in files], labels, tmp_path / "seg.dcm", {1: "adrenal_gland_right", 2: "adrenal_gland_left"}
    )
    return tmp_path / "ct", seg, labels


def test_seg_lands_on_the_ct_grid_with_names(ct_and_seg: tuple[Path, Path, np.ndarray]) -> None:
    ct_dir, seg, labels = ct_and_seg
    volume = load_dicom_seg(seg, ct_dir)
    ct = load_dicom_series(ct_dir)
    assert volume.array.dtype == np.uint8
    np.testing.assert_array_equal(volume.array, labels)
    np.testing.assert_allclose(volume.affine, ct.affine, atol=1e-6)
    assert volume.meta["label_names"] == {"adrenal_gland_right": 1, "adrenal_gland_left": 2}


def test_bad_seg_inputs_get_typed_errors(ct_and_seg: tuple[Path, Path, np.ndarray], tmp_path: Path) -> None:
    ct_dir, seg, _ = ct_and_seg
    not_seg = sorted(ct_dir.iterdir())[0]
    with pytest.raises(DicomSegError, match="not a readable DICOM Segmentation") as err:
        load_dicom_seg(not_seg, ct_dir)
    assert not_seg in err.value.files
    other = tmp_path / "other"
    write_dicom_series(np.zeros((48, 40, 12), np.int16), scanner_affine(shape=(48, 40, 12)), other)
    with pytest.raises(DicomSegError, match="frame of reference"):
        load_dicom_seg(seg, other)
