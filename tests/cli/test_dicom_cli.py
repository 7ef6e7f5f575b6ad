"""``monai-ext dicom ls/convert`` and ``monai-ext demo`` as a user runs them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

from monai_ext.cli.demo import example_affine, run_demo
from monai_ext.cli.main import main
from monai_ext.data import head_phantom_hu
from monai_ext.io import write_dicom_series
from monai_ext.io.sidecar import IDENTIFYING_KEYS


@pytest.fixture
def mixed_folder(tmp_path):
    """A CT and an MR series written into one folder tree, plus a text file."""
    phantom = head_phantom_hu((12, 10, 6))
    write_dicom_series(phantom, example_affine(), tmp_path / "a", series_uid="1.2.3.1")
    write_dicom_series(phantom, example_affine(), tmp_path / "b", modality="MR", series_uid="1.2.3.2",
                       rescale_intercept=-1000.0)  # fmt: skip
    (tmp_path / "notes.txt").write_text("hello")
    return tmp_path, phantom


def test_ls_json_lists_each_series_with_required_keys(mixed_folder, capsys):
    folder, _ = mixed_folder
    assert main(["dicom", "ls", str(folder), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    by_uid = {s["series_uid"]: s for s in listing["series"]}
    assert set(by_uid) == {"1.2.3.1", "1.2.3.2"}
    for entry in by_uid.values():
        assert {"series_uid", "modality", "n_slices", "shape", "spacing", "problems"} <= set(entry)
        assert entry["n_slices"] == 6 and entry["shape"] == [12, 10, 6]
        assert entry["spacing"] == pytest.approx([0.9, 0.9, 2.5])
        assert entry["problems"] == []
    assert by_uid["1.2.3.2"]["modality"] == "MR"
    assert listing["skipped"] == [{"path": str(folder / "notes.txt"), "reason": "not a DICOM file"}]


def test_ls_reports_a_missing_slice_as_a_problem(mixed_folder, capsys):
    folder, _ = mixed_folder
    (folder / "a" / "IM0003").unlink()
    main(["dicom", "ls", str(folder / "a"), "--json"])
    [entry] = json.loads(capsys.readouterr().out)["series"]
    assert entry["shape"] is None
    assert entry["problems"] and entry["problems"][0].startswith("MissingSliceError")


def test_convert_needs_a_series_choice_then_writes_nifti_and_clean_sidecar(mixed_folder, tmp_path, capsys):
    folder, phantom = mixed_folder
    out = tmp_path / "out" / "ct.nii.gz"
    assert main(["dicom", "convert", str(folder), str(out)]) == 2
    assert "MultipleSeriesError" in capsys.readouterr().err
    assert not out.exists()
    assert main(["dicom", "convert", str(folder), str(out), "--series", "1.2.3.1"]) == 0
    image = nib.load(out)
    np.testing.assert_array_equal(np.asanyarray(image.dataobj), phantom)
    np.testing.assert_allclose(image.affine, example_affine(), atol=1e-5)
    assert int(image.header["sform_code"]) == 1 and int(image.header["qform_code"]) == 1
    sidecar = json.loads((out.parent / "ct.json").read_text())
    assert sidecar["Modality"] == "CT"
    assert not IDENTIFYING_KEYS & set(sidecar)
    assert "DEMO" not in json.dumps(sidecar), "patient name/ID leaked into the sidecar"
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == [], "temporary files left"


def test_convert_failure_leaves_no_partial_output(mixed_folder, tmp_path):
    folder, _ = mixed_folder
    (folder / "a" / "IM0002").unlink()
    out = tmp_path / "o.nii.gz"
    assert main(["dicom", "convert", str(folder / "a"), str(out)]) == 2
    assert not out.exists() and list(tmp_path.glob(".o.nii.gz*")) == []
    assert main(["dicom", "convert", str(folder / "a"), str(out), "--resample"]) == 0
    assert nib.load(out).shape == (12, 10, 6)


def test_installed_entry_point_runs(tmp_path):
    exe = shutil.which("monai-ext") or str(__import__("pathlib").Path(sys.executable).parent / "monai-ext")
    proc = subprocess.run([exe, "dicom", "ls", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_demo_round_trip_and_refusal(tmp_path):
    summary = run_demo(tmp_path, shape=(24, 24, 12))
    assert summary["round_trip_exact"] is True
    assert "missing" in summary["missing_slice_refused"]
    assert summary["series_found"] == 2 and summary["skipped"] == ["not a DICOM file"]
    assert (tmp_path / "ct_phantom.nii.gz").exists() and (tmp_path / "ct_phantom.json").exists()


_NO_HEAVY_IMPORTS = """
import sys
from monai_ext.cli.main import main
code = main(sys.argv[1:])
heavy = sorted(m for m in ("torch", "monai") if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
raise SystemExit(code)
"""


@pytest.mark.parametrize("command", ["ls", "convert"])
def test_dicom_commands_import_neither_torch_nor_monai(mixed_folder, tmp_path, command):
    folder, _ = mixed_folder
    args = ["dicom", "ls", str(folder)]
    if command == "convert":
        args = ["dicom", "convert", str(folder / "a"), str(tmp_path / "out.nii.gz")]
    env = {"PYTHONPATH": str(__import__("pathlib").Path(__file__).resolve().parents[2]), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", _NO_HEAVY_IMPORTS, *args], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY=\n" in proc.stdout, proc.stdout


def test_help_still_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert all(name in text for name in ("dicom", "demo", "bundle", "infer", "sample"))


def test_command_table_matches_each_modules_own_parser():
    """The placeholders of the top-level help say what each command's own parser says."""
    from monai_ext.cli.main import COMMANDS, build_parser

    parser = build_parser()  # every module imported
    choices = next(a for a in parser._actions if a.dest == "command")._choices_actions
    helps = {action.dest: action.help for action in choices}
    assert helps == {name: text for name, (_, text) in COMMANDS.items()}
