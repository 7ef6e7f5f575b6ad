"""Bad-input corpus: copies of REAL scanner files, damaged one way each, must be refused with a typed error.

Every refusal asserts the error type and that the error names the file(s) concerned (``err.files`` and the
message). The real data (``../shared/data`` beside the checkout) is only ever copied: a module fixture hashes
every source file it hands out and checks at teardown (and in the last test) that none was modified.

Compressed input is checked too: real CT slices re-encoded with RLE Lossless must load to exactly the same
array, pydicom's shipped JPEG-LS / JPEG 2000 / RLE test files must match their uncompressed original, and a
missing decoder must give a :class:`MissingDecoderError` that says what to install.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import RLELossless, generate_uid

from monai_ext.io import (
    CorruptDicomError,
    DicomError,
    DuplicateSliceError,
    GantryTiltError,
    MissingDecoderError,
    MissingGeometryError,
    MissingSliceError,
    MultipleSeriesError,
    MultipleStacksError,
    NonUniformSpacingError,
    Volume,
    load_dicom_series,
    scan,
)
from tests.conftest import SHARED_DATA

DATA = SHARED_DATA
CT_SLAB = DATA / "dicom" / "ct-chest-lidc0314-slab"
CT_PHANTOM = DATA / "dicom" / "ct-head-phantom-philips"
N_SLICES = 8  # consecutive slices taken from the middle of a real series: enough to be a stack, fast to copy
PIXEL_DATA_TAG_BYTES = b"\xe0\x7f\x10\x00"  # (7FE0,0010) little endian

realdata = pytest.mark.realdata


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _z_sorted_subset(folder: Path, start: int, count: int) -> list[Path]:
    """``count`` consecutive image files of ``folder`` ordered by ImagePositionPatient z."""
    keyed = []
    for path in sorted(folder.iterdir()):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except pydicom.errors.InvalidDicomError:
            continue
        if "ImagePositionPatient" in ds:
            keyed.append((float(ds.ImagePositionPatient[2]), path))
    keyed.sort()
    return [p for _, p in keyed[start : start + count]]


@dataclass
class Sources:
    """The real files handed out to tests, with their digests taken before any test ran."""

    ct: list[Path]  # N_SLICES consecutive chest CT slices, ascending z
    phantom: list[Path]  # N_SLICES consecutive phantom slices, ascending z
    digests: dict[Path, str]

    def changed(self) -> list[Path]:
        return [p for p, digest in self.digests.items() if not p.exists() or _sha256(p) != digest]


@pytest.fixture(scope="module")
def sources() -> Iterator[Sources]:
    if not CT_SLAB.is_dir() or not CT_PHANTOM.is_dir():
        pytest.skip(f"real data not available: {DATA.resolve()} (expected ../shared/data beside the checkout)")
    ct = _z_sorted_subset(CT_SLAB, 20, N_SLICES)
    phantom = _z_sorted_subset(CT_PHANTOM, 10, N_SLICES)
    assert len(ct) == len(phantom) == N_SLICES
    sources = Sources(ct=ct, phantom=phantom, digests={p: _sha256(p) for p in [*ct, *phantom]})
    yield sources
    assert not sources.changed(), f"tests modified the shared real data: {sources.changed()}"


def _copy(files: list[Path], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy(f, folder / f.name)) for f in files]


@pytest.fixture
def ct8(sources: Sources, tmp_path: Path) -> list[Path]:
    """Fresh copies of the 8 real CT slices in ``tmp_path / 'series'``, ascending z (= loader order)."""
    return _copy(sources.ct, tmp_path / "series")


@pytest.fixture(scope="module")
def ct8_clean(sources: Sources, tmp_path_factory: pytest.TempPathFactory):
    """The undamaged 8-slice volume, the reference for everything that must load unchanged."""
    folder = tmp_path_factory.mktemp("clean")
    _copy(sources.ct, folder)
    volume = load_dicom_series(folder)
    assert volume.shape == (512, 512, N_SLICES)
    assert volume.meta["problems"] == []
    return volume


def _edit(path: Path, change: Callable[[Dataset], None]) -> None:
    """Read a copy with pydicom, change it, write it back in place (same transfer syntax)."""
    ds = pydicom.dcmread(path)
    change(ds)
    ds.save_as(path)


def _shift(axis: int, mm: float) -> Callable[[Dataset], None]:
    def change(ds: Dataset) -> None:
        position = [float(v) for v in ds.ImagePositionPatient]
        position[axis] += mm
        ds.ImagePositionPatient = position

    return change


def _refusal(folder: Path, error: type[DicomError], **kwargs) -> DicomError:
    with pytest.raises(error) as info:
        load_dicom_series(folder, **kwargs)
    return info.value


def _outcome(folder: Path, **kwargs) -> Volume | Exception:
    """The loaded volume, or the exception raised (any type: the type is what some tests check)."""
    try:
        return load_dicom_series(folder, **kwargs)
    except Exception as err:
        return err


def _assert_names(err: DicomError, *files: Path) -> None:
    """``err.files`` holds each file and the message text names it."""
    for f in files:
        assert f in err.files, f"{f.name} not in err.files {[p.name for p in err.files]}"
        assert str(f) in str(err), f"{f.name} not named in the message: {err}"


def _instance(path: Path) -> int:
    return int(pydicom.dcmread(path, stop_before_pixels=True).InstanceNumber)


# --- truncation -----------------------------------------------------------------------------------------


@realdata
def test_truncated_pixel_data_is_corrupt_and_named(ct8):
    bad = ct8[3]
    data = bad.read_bytes()
    bad.write_bytes(data[:-1000])
    err = _refusal(bad.parent, CorruptDicomError)
    assert err.files == [bad]
    assert str(bad) in str(err)
    assert "allow_unreadable" in str(err)
    skipped = {s.path: s.reason for s in scan(bad.parent).skipped}
    assert list(skipped) == [bad]
    assert skipped[bad].startswith("corrupt")
    assert "truncated pixel data" in skipped[bad]
    # Ignoring it on request leaves a hole in the stack, refused as such.
    err = _refusal(bad.parent, MissingSliceError, allow_unreadable=True)
    _assert_names(err, ct8[2], ct8[4])


@realdata
@pytest.mark.parametrize("where", ["interior", "last"])
@pytest.mark.parametrize("damage", ["header", "rle_pixel_data"])
def test_truncated_file_without_pixel_tag_is_corrupt_and_named(ct8, damage, where):
    bad = ct8[3] if where == "interior" else ct8[-1]
    if damage == "header":
        data = bad.read_bytes()
        cut = data.index(PIXEL_DATA_TAG_BYTES) // 2  # the middle of the header, past the preamble and file meta
        assert cut > 300
    else:
        ds = pydicom.dcmread(bad)
        ds.compress(RLELossless, encoding_plugin="pydicom")
        ds.save_as(bad)
        data = bad.read_bytes()
        start = data.index(PIXEL_DATA_TAG_BYTES)
        cut = start + (len(data) - start) // 2  # the middle of the RLE fragments
    bad.write_bytes(data[:cut])
    err = _outcome(bad.parent)
    if isinstance(err, Volume):
        pytest.fail(f"a truncated slice was dropped silently: loaded {err.shape}, problems {err.meta['problems']}")
    assert isinstance(err, CorruptDicomError), f"{type(err).__name__}: {err}"
    _assert_names(err, bad)
    skipped = {s.path: s.reason for s in scan(bad.parent).skipped}
    assert skipped[bad].startswith("corrupt"), skipped[bad]


# --- missing, duplicated and copied slices --------------------------------------------------------------


@realdata
def test_dropped_interior_slice_names_both_neighbours(ct8):
    os.remove(ct8[3])
    err = _refusal(ct8[0].parent, MissingSliceError)
    assert err.files == [ct8[2], ct8[4]]
    _assert_names(err, ct8[2], ct8[4])
    assert f"instance {_instance(ct8[2])} and {_instance(ct8[4])}" in str(err)
    assert "resample=True" in str(err)


@realdata
def test_duplicate_position_with_new_uid_names_both_files(ct8):
    ds = pydicom.dcmread(ct8[3])
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    duplicate = ct8[0].parent / "zz_duplicate.dcm"
    ds.save_as(duplicate)
    err = _refusal(ct8[0].parent, DuplicateSliceError)
    assert set(err.files) == {ct8[3], duplicate}
    _assert_names(err, ct8[3], duplicate)


@realdata
def test_exact_copy_is_tolerated_and_noted(ct8, ct8_clean):
    copy = Path(shutil.copy(ct8[3], ct8[0].parent / "copy_of_slice.dcm"))
    volume = load_dicom_series(ct8[0].parent)
    np.testing.assert_array_equal(volume.array, ct8_clean.array)
    np.testing.assert_array_equal(volume.affine, ct8_clean.affine)
    [note] = volume.meta["problems"]
    assert "same SOPInstanceUID" in note
    assert str(copy) in note or str(ct8[3]) in note


# --- several series in one folder -----------------------------------------------------------------------


@realdata
def test_two_real_series_in_one_folder(sources, tmp_path, ct8_clean):
    folder = tmp_path / "mixed"
    ct = _copy(sources.ct, folder)
    phantom = _copy(sources.phantom, folder)
    ct_uid = str(pydicom.dcmread(ct[0], stop_before_pixels=True).SeriesInstanceUID)
    phantom_uid = str(pydicom.dcmread(phantom[0], stop_before_pixels=True).SeriesInstanceUID)
    assert ct_uid != phantom_uid
    err = _refusal(folder, MultipleSeriesError)
    assert ct_uid in str(err) and phantom_uid in str(err)
    assert len(err.files) == 2
    assert {f.parent for f in err.files} == {folder}
    assert any(f in ct for f in err.files) and any(f in phantom for f in err.files)
    _assert_names(err, *err.files)
    volume = load_dicom_series(folder, series_uid=ct_uid)
    np.testing.assert_array_equal(volume.array, ct8_clean.array)
    assert set(volume.meta["source_files"]) == {str(p) for p in ct}
    volume = load_dicom_series(folder, series_uid=phantom_uid)
    assert volume.shape == (512, 512, N_SLICES)
    assert volume.spacing[2] == pytest.approx(5.0, abs=1e-3)
    assert set(volume.meta["source_files"]) == {str(p) for p in phantom}


@realdata
def test_changed_series_uid_splits_off_one_file(ct8):
    original_uid = str(pydicom.dcmread(ct8[0], stop_before_pixels=True).SeriesInstanceUID)
    new_uid = generate_uid()
    _edit(ct8[3], lambda ds: setattr(ds, "SeriesInstanceUID", new_uid))
    result = scan(ct8[0].parent)
    assert sorted(len(s.headers) for s in result.series) == [1, N_SLICES - 1]
    err = _refusal(ct8[0].parent, MultipleSeriesError)
    assert new_uid in str(err) and original_uid in str(err)
    _assert_names(err, ct8[3])
    single = load_dicom_series(ct8[0].parent, series_uid=new_uid)
    assert single.shape == (512, 512, 1)
    assert single.meta["source_files"] == [str(ct8[3])]
    err = _refusal(ct8[0].parent, MissingSliceError, series_uid=original_uid)
    _assert_names(err, ct8[2], ct8[4])


# --- corrupt header values -------------------------------------------------------------------------------


def _last_by_name(files: list[Path]) -> Path:
    """The file scanned last: the one an error listing many files is least likely to show."""
    return max(files, key=lambda p: p.name)


@realdata
def test_other_orientation_in_one_slice_splits_stacks(ct8):
    odd = _last_by_name(ct8)
    _edit(odd, lambda ds: setattr(ds, "ImageOrientationPatient", [1, 0, 0, 0, 0, -1]))
    err = _refusal(ct8[0].parent, MultipleStacksError)
    assert odd in err.files
    assert "coronal" in str(err) and "stack=N" in str(err)
    volume = load_dicom_series(ct8[0].parent, stack=1)  # the odd slice alone, as a coronal image
    assert volume.shape == (512, 512, 1)
    assert volume.meta["source_files"] == [str(odd)]


@realdata
def test_changed_rows_in_one_slice_is_refused(ct8):
    odd = _last_by_name(ct8)
    _edit(odd, lambda ds: setattr(ds, "Rows", 256))
    err = _refusal(ct8[0].parent, MultipleStacksError)
    assert odd in err.files
    assert "512x256" in str(err)


@realdata
@pytest.mark.parametrize("damage", ["orientation", "rows"])
def test_stack_split_names_the_odd_file(ct8, damage):
    odd = _last_by_name(ct8)
    if damage == "orientation":
        _edit(odd, lambda ds: setattr(ds, "ImageOrientationPatient", [1, 0, 0, 0, 0, -1]))
    else:
        _edit(odd, lambda ds: setattr(ds, "Rows", 256))
    err = _refusal(ct8[0].parent, MultipleStacksError)
    assert str(odd) in str(err)


def _garble_position(ds: Dataset) -> None:
    # DS cannot hold text: write the bytes under another VR; the implicit-VR file reads them back as DS.
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ImplicitVRLittleEndian
    del ds.ImagePositionPatient
    ds.add_new(0x00200032, "LO", ["abc", "1", "2"])


def _delete_position(ds: Dataset) -> None:
    del ds.ImagePositionPatient


@realdata
@pytest.mark.parametrize("damage", [_garble_position, _delete_position], ids=["non_numeric", "deleted"])
def test_unusable_position_is_missing_geometry(ct8, damage):
    bad = ct8[3]
    _edit(bad, damage)
    err = _refusal(bad.parent, MissingGeometryError)
    assert err.files == [bad]
    _assert_names(err, bad)
    assert "ImagePositionPatient" in str(err)


@realdata
def test_non_orthogonal_orientation_is_missing_geometry(ct8):
    for path in ct8:
        _edit(path, lambda ds: setattr(ds, "ImageOrientationPatient", [1, 0, 0, 0.1, 0.995, 0]))
    err = _outcome(ct8[0].parent)
    assert not isinstance(err, Volume), "a non-orthogonal orientation was accepted"
    assert isinstance(err, MissingGeometryError), f"{type(err).__name__}: {err}"
    assert sorted(err.files) == sorted(ct8), "every slice with the bad orientation is named in err.files"
    _assert_names(err, err.files[0])
    assert "non-orthogonal" in str(err)


# --- files that are not DICOM ----------------------------------------------------------------------------


@realdata
def test_random_binary_and_text_files_are_skipped(ct8, ct8_clean):
    folder = ct8[0].parent
    junk = folder / "junk.bin"
    junk.write_bytes(b"\xff" + np.random.default_rng(0).bytes(4095))
    notes = folder / "notes.txt"
    notes.write_text("scanned on the night shift\n" * 20)
    result = scan(folder)
    assert {s.path: s.reason for s in result.skipped} == {junk: "not a DICOM file", notes: "not a DICOM file"}
    assert result.unreadable == []
    volume = load_dicom_series(folder)
    np.testing.assert_array_equal(volume.array, ct8_clean.array)
    assert volume.meta["problems"] == []


# --- geometry: tilt and uneven gaps ---------------------------------------------------------------------


@realdata
def test_gantry_tilt_refused_then_resampled(ct8, ct8_clean):
    for k, path in enumerate(ct8):
        _edit(path, _shift(1, 0.5 * k))  # 0.5 mm (0.64 pixel) in-plane per 1 mm slice: a 26.6 degree tilt
    err = _refusal(ct8[0].parent, GantryTiltError)
    assert err.files == [ct8[0], ct8[-1]]
    _assert_names(err, ct8[0], ct8[-1])
    assert "resample=True" in str(err)
    volume = load_dicom_series(ct8[0].parent, resample=True)
    assert volume.shape == ct8_clean.shape
    assert any("gantry tilt" in p for p in volume.meta["problems"])
    assert volume.meta["resampled"]
    np.testing.assert_allclose(volume.affine, ct8_clean.affine, atol=1e-4)  # orthogonal grid on slice 0
    np.testing.assert_allclose(volume.array[:, :, 0], ct8_clean.array[:, :, 0], atol=0.01)  # slice 0 not moved


@realdata
def test_uneven_gap_is_non_uniform_not_missing(ct8):
    moved = ct8[3]
    _edit(moved, _shift(2, 0.3))  # 30% of the 1 mm spacing
    err = _refusal(ct8[0].parent, NonUniformSpacingError)
    assert not isinstance(err, MissingSliceError)
    assert len(err.files) == 2
    _assert_names(err, moved)
    assert "0.700" in str(err) and "1.300" in str(err)


# --- compressed real data --------------------------------------------------------------------------------


@realdata
def test_rle_reencoded_real_slices_load_identically(ct8, ct8_clean, tmp_path):
    folder = tmp_path / "rle"
    folder.mkdir()
    for path in ct8:
        ds = pydicom.dcmread(path)
        ds.compress(RLELossless, encoding_plugin="pydicom")
        ds.save_as(folder / path.name)
    volume = load_dicom_series(folder)
    assert volume.meta["transfer_syntax"] == [RLELossless]
    assert volume.array.dtype == ct8_clean.array.dtype
    np.testing.assert_array_equal(volume.array, ct8_clean.array)
    np.testing.assert_array_equal(volume.affine, ct8_clean.affine)


def _pydicom_test_file(name: str) -> Path:
    try:
        path = get_testdata_file(name, download=False)
    except Exception as err:  # missing test data only skips
        pytest.skip(f"pydicom test file {name} not available: {err}")
    if path is None:
        pytest.skip(f"pydicom test file {name} not shipped with this pydicom")
    return Path(path)


def _load_alone(name: str, tmp_path: Path):
    folder = tmp_path / Path(name).stem
    folder.mkdir()
    shutil.copy(_pydicom_test_file(name), folder / name)
    return load_dicom_series(folder)


@pytest.mark.parametrize(
    ("name", "syntax"),
    [
        ("MR_small_jpeg_ls_lossless.dcm", "1.2.840.10008.1.2.4.80"),
        ("MR_small_jp2klossless.dcm", "1.2.840.10008.1.2.4.90"),
        ("MR_small_RLE.dcm", "1.2.840.10008.1.2.5"),
    ],
)
def test_lossless_codecs_match_uncompressed(name, syntax, tmp_path):
    reference = _load_alone("MR_small.dcm", tmp_path)
    assert reference.shape == (64, 64, 1)
    expected = pydicom.dcmread(_pydicom_test_file("MR_small.dcm")).pixel_array.T[:, :, None]
    np.testing.assert_array_equal(reference.array, expected)
    volume = _load_alone(name, tmp_path)
    assert volume.meta["transfer_syntax"] == [syntax]
    assert volume.array.dtype == reference.array.dtype
    np.testing.assert_array_equal(volume.array, reference.array)
    np.testing.assert_array_equal(volume.affine, reference.affine)


_NO_DECODERS = textwrap.dedent(
    """
    import sys
    for name in ("pylibjpeg", "libjpeg", "openjpeg", "rle", "gdcm", "jpeg_ls", "pyjpegls"):
        sys.modules[name] = None  # import fails: as if the package were not installed
    import pydicom
    from monai_ext.io import DicomError, load_dicom_series
    try:
        load_dicom_series(sys.argv[1])
    except DicomError as err:
        print(type(err).__name__)
        print(err.problem)
        print(*err.files, sep="\\n")
    else:
        print("LOADED")
    """
)


def test_missing_decoder_names_syntax_and_what_to_install(tmp_path):
    folder = tmp_path / "jpeg_ls"
    folder.mkdir()
    source = shutil.copy(_pydicom_test_file("MR_small_jpeg_ls_lossless.dcm"), folder)
    done = subprocess.run(
        [sys.executable, "-c", _NO_DECODERS, str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    name, problem, *files = done.stdout.strip().splitlines()
    assert name == MissingDecoderError.__name__, done.stdout
    assert "JPEG-LS Lossless" in problem and "1.2.840.10008.1.2.4.80" in problem
    assert "install" in problem and "pylibjpeg" in problem
    assert files == [str(source)]


# --- the real data was never touched ---------------------------------------------------------------------


@realdata
def test_zz_shared_real_data_unchanged(sources):
    """Runs last in this file: every source file handed out still has its original digest."""
    assert len(sources.digests) == 2 * N_SLICES
    assert sources.changed() == []
