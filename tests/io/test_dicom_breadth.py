"""Scanner breadth: 4D grouping of every vendor's MR, Siemens mosaics, non-image objects, odd headers.

Real series are compared with their dcm2niix references; synthetic ones (tiny, written here) with the truth
they were written from, and with dcm2niix itself when it is installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from monai_ext.io import (
    CorruptDicomError,
    DuplicateSliceError,
    NoSeriesError,
    UnsupportedImageError,
    load_dicom_series,
    save_nifti,
    scan,
)
from monai_ext.io.dicom.headers.csa import CsaError, parse_csa
from monai_ext.io.dicom.planning.geometry import LPS_TO_RAS
from tests.conftest import require_data
from tests.io.dcm2niix_reference import compare_with_dcm2niix, world_directions
from tests.io.synthetic_mr import _file, csa_header, mr_image, write_4d, write_mosaic

BREADTH = [
    "mr-siemens-mosaic-fmri",
    "mr-ge-dwi-repeated-positions",
    "mr-canon-dti-repeated-positions",
    "mr-philips-dti-with-non-image-file",
]
DCM2NIIX = shutil.which("dcm2niix")


def _dcm2niix(folder: Path, out: Path) -> Path:
    if DCM2NIIX is None:
        pytest.skip("dcm2niix is not installed (Debian package dcm2niix)")
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [DCM2NIIX, "-z", "n", "-b", "n", "-f", "ref", "-o", str(out), str(folder)], check=True, capture_output=True
    )
    return out / "ref.nii"


@pytest.mark.realdata
@pytest.mark.parametrize("case", BREADTH)
def test_real_series_equal_dcm2niix(case, tmp_path):
    root = require_data(f"dicom-breadth/{case}")
    reference = next((root / "dcm2niix").glob("*.nii.gz"))
    volume = load_dicom_series(root / "dicom")
    out = save_nifti(volume, tmp_path / "ours.nii.gz")
    result = compare_with_dcm2niix(out, reference)
    assert result.shape == result.reference_shape
    assert result.spacing_diff <= 0.01 and result.centre_diff <= 1.0
    assert result.min_correlation > 0.999
    if case == "mr-siemens-mosaic-fmri":  # fMRI: the time step (TR) in pixdim[4], as dcm2niix writes it
        assert nib.load(out).header.get_zooms()[3] == pytest.approx(nib.load(reference).header.get_zooms()[3])
    else:
        assert result.bvals_equal and result.bvecs_equal, result
        sidecar = json.loads((tmp_path / "ours.json").read_text())
        assert sidecar["FrameAxis"] == "diffusion" and len(sidecar["DiffusionBValues"]) == volume.shape[3]


@pytest.mark.realdata
def test_philips_non_image_objects_are_skipped_with_reasons_not_corrupt():
    root = require_data("dicom-breadth/mr-philips-dti-with-non-image-file/dicom")
    result = scan(root)
    reasons = {s.path.name: s.reason for s in result.skipped}
    assert not result.unreadable
    assert "Philips private MR series data" in reasons["XX_0546"]
    assert "ExamCard" in reasons["XX_0547"]
    assert "Presentation State" in reasons["PS_0545"]


def test_examcard_beyond_the_header_read_limit_is_not_an_image(tmp_path):
    ds = mr_image(np.zeros((4, 4), np.uint16), (0, 0, 0), series_uid="1.2.3", instance=1)
    ds.SOPClassUID = "1.3.46.670589.11.0.0.12.4"
    del ds.PixelData
    ds.add_new(0x20051132, "OB", b"\0" * (5 << 20))  # 5 MiB of private blob, past the 4 MiB header read
    _file(ds, tmp_path / "XX_0001")
    result = scan(tmp_path)
    assert not result.unreadable and "ExamCard" in result.skipped[0].reason


def test_private_object_with_rows_but_no_pixels_is_not_called_corrupt(tmp_path):
    ds = mr_image(np.zeros((4, 4), np.uint16), (0, 0, 0), series_uid="1.2.3", instance=1)
    ds.SOPClassUID = "1.3.46.670589.11.0.0.99.1"  # unknown private class
    del ds.PixelData
    _file(ds, tmp_path / "XX_0002")
    [skipped] = scan(tmp_path).skipped
    assert skipped.reason.startswith("not an image")


def _volumes(n_vol=3, n_slices=4, rows=6, cols=5, seed=0):
    return np.random.default_rng(seed).integers(0, 1000, (n_vol, n_slices, rows, cols)).astype(np.uint16)


def _ijk(volumes):
    """``(T, K, rows, cols)`` -> the loader's ``(I, J, K, T)``."""
    return volumes.transpose(3, 2, 1, 0)


@pytest.mark.parametrize("instance_order", ["volume", "slice"])
def test_ge_style_fmri_without_temporal_tags_groups_by_instance_order(tmp_path, instance_order):
    data = _volumes()
    write_4d(tmp_path, data, lambda t, k: {"Manufacturer": "GE MEDICAL SYSTEMS", "NumberOfTemporalPositions": 3},
             instance_order=instance_order)  # fmt: skip
    volume = load_dicom_series(tmp_path)
    assert volume.shape == (5, 6, 4, 3) and volume.meta["frame_axis"] == "instance_order"
    np.testing.assert_array_equal(volume.array, _ijk(data))


def test_per_slice_trigger_time_does_not_split_into_one_slice_stacks(tmp_path):
    data = _volumes(n_vol=4)

    def tags(t, k):  # Philips multiphase ASL: label/control, phases, and a TriggerTime for every slice
        return {"TriggerTime": f"{100 * (t // 2) + 30 * k}", "ImageType": ["ORIGINAL", "PRIMARY", "M", "ASL"],
                "AcquisitionNumber": t % 2 + 1}  # fmt: skip

    write_4d(tmp_path, data, tags)
    volume = load_dicom_series(tmp_path)
    assert volume.shape == (5, 6, 4, 4)
    assert "trigger_time" not in volume.meta["frame_axis"]
    np.testing.assert_array_equal(volume.array, _ijk(data))


def test_dual_echo_magnitude_and_phase_form_four_volumes(tmp_path):
    data = _volumes(n_vol=4)
    parts = ["M", "P", "M", "P"]

    def tags(t, k):
        return {"EchoNumbers": t // 2 + 1, "EchoTime": f"{5 + 5 * (t // 2)}",
                "ImageType": ["ORIGINAL", "PRIMARY", parts[t], "FFE", parts[t]]}  # fmt: skip

    write_4d(tmp_path, data, tags)
    volume = load_dicom_series(tmp_path)
    assert volume.shape == (5, 6, 4, 4) and volume.meta["frame_axis"] == "echo_number+image_type"
    np.testing.assert_array_equal(volume.array, _ijk(data))


def test_ge_b0_field_map_magnitude_and_field_volumes(tmp_path):
    data = _volumes(n_vol=2)

    # GE tells the magnitude and field-map images apart only by its private image type (0043,102F); here
    # both volumes even share their InstanceNumbers, so nothing else could
    def tags(t, k):
        private = {0x00430010: ("LO", "GEMS_PARM_01"), 0x0043102F: ("SS", 0 if t == 0 else 4)}
        return {"Manufacturer": "GE MEDICAL SYSTEMS", "ImageType": ["ORIGINAL", "PRIMARY", "OTHER"],
                "InstanceNumber": k + 1, "private": private}  # fmt: skip

    write_4d(tmp_path, data, tags)
    volume = load_dicom_series(tmp_path)
    assert volume.shape == (5, 6, 4, 2) and volume.meta["frame_axis"] == "complex_part"
    magnitude = volume.meta["frame_values"].index("M")  # the volume axis says which volume is which
    np.testing.assert_array_equal(volume.array[..., magnitude], _ijk(data)[..., 0])
    np.testing.assert_array_equal(volume.array[..., 1 - magnitude], _ijk(data)[..., 1])


def test_diffusion_volumes_in_acquisition_order_with_fsl_vectors(tmp_path):
    data = _volumes(n_vol=3)
    b = [0.0, 1000.0, 1000.0]
    directions = [None, (1.0, 0.0, 0.0), (0.0, 0.6, 0.8)]

    def tags(t, k):
        out = {"Manufacturer": "Philips Medical Systems", "DiffusionBValue": b[t]}
        if directions[t]:
            out["DiffusionGradientOrientation"] = list(directions[t])
        return out

    write_4d(tmp_path / "dicom", data, tags)
    volume = load_dicom_series(tmp_path / "dicom")
    assert volume.meta["b_values"] == b
    out = save_nifti(volume, tmp_path / "dwi.nii.gz")
    bvec = np.loadtxt(tmp_path / "dwi.bvec")
    assert np.loadtxt(tmp_path / "dwi.bval").tolist() == b
    np.testing.assert_allclose(bvec[:, 0], 0.0)  # b=0: no direction
    # identity orientation: voxel axes i, j, k run along L, P, S, so the RAS affine has determinant > 0 and
    # FSL's convention is the LPS direction with its first component negated
    assert np.linalg.det(nib.load(out).affine[:3, :3]) > 0
    np.testing.assert_allclose(bvec[:, 1], [-1.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(bvec[:, 2], [0.0, 0.6, 0.8], atol=1e-6)
    world = world_directions(bvec, nib.load(out).affine)  # and back to the RAS direction the header gave
    np.testing.assert_allclose(world[2], LPS_TO_RAS[:3, :3] @ np.array(directions[2]), atol=1e-6)


def test_philips_derived_trace_volume_is_left_out_like_dcm2niix(tmp_path):
    data = _volumes(n_vol=3)

    def tags(t, k):
        out = {"Manufacturer": "Philips Medical Systems", "DiffusionBValue": [0.0, 1000.0, 1000.0][t]}
        if t == 1:
            out["DiffusionGradientOrientation"] = [0.0, 1.0, 0.0]
        if t == 2:  # the isotropic (trace) image Philips appends: b=1000, no direction
            out["ImageType"] = ["DERIVED", "PRIMARY", "DIFFUSION", "I"]
        return out

    write_4d(tmp_path, data, tags)
    volume = load_dicom_series(tmp_path)
    assert volume.shape == (5, 6, 4, 2) and volume.meta["b_values"] == [0.0, 1000.0]
    np.testing.assert_array_equal(volume.array, _ijk(data[:2]))
    assert any("derived trace" in p for p in volume.meta["problems"])


@pytest.mark.parametrize(
    ("b_values", "directional"),
    [((0.0, 800.0), True), ((0.0, 500.0, 1000.0), False)],
    ids=["dwi", "xa-tracew"],  # Siemens XA TRACEW: trace-weighted frames, b-values only
)
def test_enhanced_frames_with_b_values_in_mr_diffusion_sequence(tmp_path, b_values, directional):
    data = _volumes(n_vol=len(b_values), n_slices=3)
    uid = "1.2.826.0.1.3680043.8.498.77"
    ds = mr_image(
        np.zeros((6, 5), np.uint16), (0, 0, 0), series_uid=uid, instance=1, Manufacturer="Siemens Healthineers"
    )
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"
    frames, pixels = [], []
    for t, b_value in enumerate(b_values):
        for k in range(3):
            plane, content, diffusion = Dataset(), Dataset(), Dataset()
            plane.ImagePositionPatient = [0, 0, 3.0 * k]
            content.InStackPositionNumber = k + 1
            diffusion.DiffusionBValue = b_value
            if b_value and directional:
                direction = Dataset()
                direction.DiffusionGradientOrientation = [0.0, 0.0, 1.0]
                diffusion.DiffusionGradientDirectionSequence = DicomSequence([direction])
            group = Dataset()
            group.PlanePositionSequence = DicomSequence([plane])
            group.FrameContentSequence = DicomSequence([content])
            group.MRDiffusionSequence = DicomSequence([diffusion])
            frames.append(group)
            pixels.append(data[t, k])
    shared, orient, measures = Dataset(), Dataset(), Dataset()
    orient.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    measures.PixelSpacing, measures.SliceThickness = [2, 2], 3
    shared.PlaneOrientationSequence = DicomSequence([orient])
    shared.PixelMeasuresSequence = DicomSequence([measures])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(frames)
    ds.NumberOfFrames = len(frames)
    del ds.ImagePositionPatient, ds.ImageOrientationPatient, ds.PixelSpacing
    ds.PixelData = np.stack(pixels).astype(np.uint16).tobytes()
    _file(ds, tmp_path / "enhanced.dcm")
    volume = load_dicom_series(tmp_path)
    assert volume.shape == (5, 6, 3, len(b_values)) and volume.meta["b_values"] == list(b_values)
    assert volume.meta["frame_axis"] == "diffusion"
    np.testing.assert_array_equal(volume.array, _ijk(data))
    save_nifti(volume, tmp_path / "out" / "dwi.nii.gz")
    assert np.loadtxt(tmp_path / "out" / "dwi.bval").tolist() == list(b_values)


def test_ambiguous_repeats_are_refused_naming_the_fields_tried(tmp_path):
    data = _volumes(n_vol=2)
    write_4d(tmp_path, data, lambda t, k: {"InstanceNumber": k + 1})
    with pytest.raises(DuplicateSliceError) as info:
        load_dicom_series(tmp_path)
    assert "fields tried" in str(info.value) and "diffusion" in str(info.value) and info.value.files


@pytest.mark.parametrize(
    ("n_slices", "normal_sign", "per_side"),
    [(9, 1.0, None), (5, 1.0, None), (7, -1.0, None), (6, -1.0, 3)],
    ids=["square", "odd-tiles", "descending", "descending-padded"],
)
def test_mosaic_unpacks_to_the_volume_written(tmp_path, n_slices, normal_sign, per_side):
    truth = np.random.default_rng(n_slices).integers(1, 900, (n_slices, 6, 5)).astype(np.uint16)
    _, positions, _ = write_mosaic(tmp_path / "dicom", truth, normal_sign=normal_sign, per_side=per_side)
    volume = load_dicom_series(tmp_path / "dicom")
    assert volume.shape == (5, 6, n_slices, 2)
    first = int(np.argmin(positions @ np.cross([1, 0, 0], [0, 0.98, -0.19899749])))
    order = np.argsort(positions @ np.cross([1, 0, 0], [0, 0.98, -0.19899749]))
    np.testing.assert_array_equal(volume.array[..., 0], truth[order].transpose(2, 1, 0))
    np.testing.assert_array_equal(volume.array[..., 1], truth[order].transpose(2, 1, 0) + 1)
    origin_ras = volume.affine[:3, 3]
    np.testing.assert_allclose(origin_ras, (LPS_TO_RAS[:3, :3] @ positions[first]), atol=1e-4)
    assert abs(volume.spacing[2] - 3.5) < 1e-4


@pytest.mark.parametrize(("n_slices", "normal_sign"), [(5, 1.0), (7, -1.0)], ids=["odd-tiles", "descending"])
def test_mosaic_unpacking_equals_dcm2niix(tmp_path, n_slices, normal_sign):
    truth = np.random.default_rng(n_slices).integers(1, 900, (n_slices, 6, 5)).astype(np.uint16)
    write_mosaic(tmp_path / "dicom", truth, normal_sign=normal_sign)
    reference = _dcm2niix(tmp_path / "dicom", tmp_path / "ref")  # skips with the reason when not installed
    ours = save_nifti(load_dicom_series(tmp_path / "dicom"), tmp_path / "ours.nii.gz")
    result = compare_with_dcm2niix(ours, reference)
    assert result.ok, result


def test_mosaic_without_csa_is_refused_never_returned_as_one_slice(tmp_path):
    truth = np.ones((4, 6, 5), np.uint16)
    write_mosaic(tmp_path, truth, n_time=1)
    path = next(tmp_path.iterdir())
    ds = pydicom.dcmread(path)
    del ds[0x00291010]
    ds.save_as(path)
    result = scan(tmp_path)
    assert not result.series and "MOSAIC" in result.skipped[0].reason
    with pytest.raises(NoSeriesError, match="MOSAIC"):
        load_dicom_series(tmp_path)


def test_a_series_missing_a_refused_mosaic_does_not_load_silently_without_it(tmp_path):
    truth = np.ones((4, 6, 5), np.uint16)
    write_mosaic(tmp_path, truth, n_time=3)
    path = sorted(tmp_path.iterdir())[1]
    ds = pydicom.dcmread(path)
    del ds[0x00291010]  # its CSA header is gone: that volume cannot be unpacked
    ds.save_as(path)
    with pytest.raises(UnsupportedImageError, match="silently miss") as info:
        load_dicom_series(tmp_path)
    assert info.value.files == [path]
    assert load_dicom_series(tmp_path, allow_unreadable=True).shape == (5, 6, 4, 2)


def test_uih_vframe_is_refused_saying_what_it_is(tmp_path):
    ds = mr_image(np.zeros((8, 8), np.uint16), (0, 0, 0), series_uid="1.2.3", instance=1,
                  Manufacturer="UIH", ImageType=["ORIGINAL", "PRIMARY", "M", "VFRAME"])  # fmt: skip
    _file(ds, tmp_path / "uih.dcm")
    with pytest.raises(NoSeriesError, match="UIH VFRAME"):
        load_dicom_series(tmp_path)


def test_csa_parser_refuses_garbage_with_a_typed_error():
    good = csa_header({"NumberOfImagesInMosaic": ["12"], "SliceNormalVector": ["0", "0.1", "0.99"]})
    parsed = parse_csa(good)
    assert parsed["NumberOfImagesInMosaic"].values == ("12",) and len(parsed["SliceNormalVector"].values) == 3
    for bad in (b"", b"SV10\x04\x03\x02\x01\xff\xff\xff\xff\x4d\0\0\0", good[:40], good[:100]):
        with pytest.raises(CsaError):
            parse_csa(bad)


def test_screenshot_group_does_not_block_the_scout_stack(tmp_path):
    uid = "1.2.826.0.1.3680043.8.498.55"
    for k in range(3):
        ds = mr_image(np.full((6, 5), k, np.uint16), (0, 0, 2.0 * k), series_uid=uid, instance=k + 1)
        ds.Modality = "CT"
        _file(ds, tmp_path / f"scout{k}")
    shot = mr_image(np.zeros((16, 16), np.uint16), (0, 0, 0), series_uid=uid, instance=10,
                    ImageType=["DERIVED", "SECONDARY", "SCREEN SAVE"])  # fmt: skip
    del shot.ImagePositionPatient
    _file(shot, tmp_path / "summary")
    volume = load_dicom_series(tmp_path)
    assert volume.shape == (5, 6, 3)
    assert any("screenshot" in p for p in volume.meta["problems"])


def test_screenshots_of_the_same_size_without_positions_are_set_aside(tmp_path):
    uid = "1.2.826.0.1.3680043.8.498.56"
    for k in range(3):
        _file(
            mr_image(np.full((6, 5), k, np.uint16), (0, 0, 2.0 * k), series_uid=uid, instance=k + 1), tmp_path / f"s{k}"
        )
    for n in range(2):  # "Exam Summary" pages: same matrix and orientation, no position
        shot = mr_image(np.zeros((6, 5), np.uint16), (0, 0, 0), series_uid=uid, instance=20 + n,
                        ImageType=["DERIVED", "SECONDARY", "SUMMARY"])  # fmt: skip
        del shot.ImagePositionPatient
        _file(shot, tmp_path / f"summary{n}")
    volume = load_dicom_series(tmp_path)
    assert volume.shape == (5, 6, 3) and any("screenshot" in p for p in volume.meta["problems"])


def test_file_without_preamble_loads_with_sidecar(tmp_path):
    ds = mr_image(np.arange(30, dtype=np.uint16).reshape(6, 5), (0, 0, 0), series_uid="1.2.3", instance=1)
    path = _file(ds, tmp_path / "in" / "a.dcm")
    path.write_bytes(path.read_bytes()[132:])  # strip the preamble and DICM prefix
    volume = load_dicom_series(tmp_path / "in")
    save_nifti(volume, tmp_path / "out.nii.gz")
    assert json.loads((tmp_path / "out.json").read_text())["Modality"] == "MR"


def test_zero_pixel_spacing_gives_a_note_and_a_valid_affine(tmp_path):
    for k in range(2):
        ds = mr_image(
            np.zeros((6, 5), np.uint16), (0, 0, 3.0 * k), series_uid="1.2.3", instance=k + 1, PixelSpacing=["0", "0"]
        )
        _file(ds, tmp_path / "in" / f"{k}.dcm")
    volume = load_dicom_series(tmp_path / "in")
    assert any("PixelSpacing" in p for p in volume.meta["problems"])
    assert abs(np.linalg.det(volume.affine[:3, :3])) > 0
    save_nifti(volume, tmp_path / "out.nii.gz")


def test_pixel_data_without_rows_and_columns_is_corrupt_not_loadable(tmp_path):
    ds = mr_image(np.zeros((6, 5), np.uint16), (0, 0, 0), series_uid="1.2.3", instance=1)
    del ds.Rows, ds.Columns
    _file(ds, tmp_path / "a.dcm")
    result = scan(tmp_path)
    assert not result.series and result.unreadable
    with pytest.raises(CorruptDicomError):
        load_dicom_series(tmp_path)


def _getter(values):
    return lambda keyword, default=None: values.get(keyword, default)


def test_vendor_diffusion_frames_come_out_in_patient_axes():
    from monai_ext.io.dicom.headers.diffusion_tags import read_diffusion

    oblique = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)  # rows along P, columns along -S (a sagittal slice), normal -L
    ge = {"GEBValue": ["1000001000", "8"], "GEDiffusionFreq": "0.6", "GEDiffusionPhase": "0", "GEDiffusionSlice": "0"}
    b, direction = read_diffusion(_getter({**ge, "InPlanePhaseEncodingDirection": "COL"}), oblique, "GE MEDICAL")
    assert b == pytest.approx(1000 * 0.36)  # multi-shell: the vector's squared length scales the b-value
    np.testing.assert_allclose(direction, [0.0, -1.0, 0.0], atol=1e-9)  # -freq along the row direction
    coronal = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)  # normal along P: GE's phase axis is reversed for coronal slices
    ge_phase = {**ge, "GEDiffusionFreq": "0", "GEDiffusionPhase": "1"}
    _, direction = read_diffusion(_getter(ge_phase), coronal, "GE MEDICAL")
    np.testing.assert_allclose(direction, [0.0, 0.0, -1.0], atol=1e-9)  # +phase along the column direction
    canon = {"DiffusionBValue": 1500.0, "ImageComments": "b=1500(0.000,1.000,0.000)"}
    b, direction = read_diffusion(_getter(canon), oblique, "CANON_MEC")
    np.testing.assert_allclose(direction, [0.0, -1.0, 0.0], atol=1e-9)  # (a, b, c) -> (-b, -a, c) image axes
    philips = {"PhilipsBValue": 800.0, "PhilipsDiffusionRL": 0.0, "PhilipsDiffusionAP": 0.0, "PhilipsDiffusionFH": 2.0}
    assert read_diffusion(_getter(philips), oblique, "Philips") == (800.0, (0.0, 0.0, 1.0))
