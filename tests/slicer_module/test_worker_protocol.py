"""The worker script as a real subprocess: progress lines, result, error lines and exit codes."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
from MonaiBundleExplorerLib import process, testing, worker

from .conftest import REPO


def run_worker(tmp_path, **request):
    request = {"bundlePath": str(tmp_path), "outputDir": str(tmp_path / "out"), "device": "cpu", **request}
    request_path = process.writeRequest(tmp_path, request)
    env = {"PYTHONPATH": f"{process.MODULE_DIR}:{REPO}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, str(process.WORKER_SCRIPT), str(request_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()], done.stderr


@pytest.fixture
def input_volume(tmp_path, oblique_affine):
    data = np.random.default_rng(0).normal(size=(16, 12, 10)).astype(np.float32)
    path = tmp_path / "input.nii.gz"
    nib.save(nib.Nifti1Image(data, oblique_affine), path)
    return path


def test_tiny_torch_run_reports_progress_then_result(tmp_path, input_volume):
    code, lines, stderr = run_worker(
        tmp_path, inputPath=str(input_volume), runner="tests.slicer_module.tiny_runner:run_tiny_torch"
    )
    assert code == 0, stderr
    progress = [line for line in lines[:-1]]
    assert all(set(line) == {"stage", "fraction", "message"} for line in progress)
    fractions = [line["fraction"] for line in progress]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert [line["stage"] for line in progress][1:4] == ["load", "infer", "heatmap"]
    result = lines[-1]["result"]
    assert pytest.approx(sum(result["probabilities"])) == 1.0
    heatmap, source = nib.load(result["maps"]["heatmap"]), nib.load(input_volume)
    assert heatmap.shape == source.shape
    np.testing.assert_allclose(heatmap.affine, source.affine)
    values = np.asarray(heatmap.dataobj)
    assert values.min() >= 0.0 and values.max() == pytest.approx(1.0)


def test_runner_exception_becomes_an_error_line(tmp_path, input_volume):
    code, lines, _ = run_worker(
        tmp_path, inputPath=str(input_volume), runner="tests.slicer_module.tiny_runner:run_failing"
    )
    assert code == worker.EXIT_ERROR
    error = lines[-1]["error"]
    assert error["type"] == "ValueError"
    assert "2 input channels" in error["message"]
    assert "Traceback" in error["details"]
    assert lines[-2]["stage"] == "load"


@pytest.mark.skipif(importlib.util.find_spec("monai_ext.bundle.runner") is not None, reason="the runner exists now")
def test_missing_default_runner_is_reported_plainly(tmp_path, input_volume):
    code, lines, _ = run_worker(tmp_path, inputPath=str(input_volume))
    assert code == worker.EXIT_RUNNER_MISSING
    assert lines[-1]["error"]["type"] == "RunnerNotInstalled"
    assert "monai_ext.bundle.runner" in lines[-1]["error"]["message"]
    assert "not installed" in lines[-1]["error"]["message"]


@pytest.mark.parametrize(
    ("request_fields", "expected"),
    [({}, "inputPath"), ({"inputPath": "x.nii", "runner": "no-colon"}, "module:function")],
)
def test_bad_requests(tmp_path, request_fields, expected):
    code, lines, _ = run_worker(tmp_path, **request_fields)
    assert code == worker.EXIT_ERROR
    assert lines[-1]["error"]["type"] == "RequestError"
    assert expected in lines[-1]["error"]["message"]


def test_unreadable_request_file(tmp_path):
    (tmp_path / "request.json").write_text("{not json")
    done = subprocess.run(
        [sys.executable, str(process.WORKER_SCRIPT), str(tmp_path / "request.json")], capture_output=True, text=True
    )
    assert done.returncode == worker.EXIT_ERROR
    assert json.loads(done.stdout)["error"]["type"] == "RequestError"


def test_prints_from_the_runner_stay_off_the_protocol(tmp_path):
    code, lines, stderr = run_worker(tmp_path, inputPath="unused", runner="tests.slicer_module.tiny_runner:run_noisy")
    assert code == 0
    assert lines[-1] == {"result": {"classNames": ["only"], "probabilities": [1.0], "maps": {}}}
    assert "chatter from a library" in stderr and "raw bytes written to fd 1" in stderr


def test_batch_keeps_going_past_a_bad_volume(tmp_path, input_volume, tiny_bundle):
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"not a nifti file")
    inputs = [str(input_volume), str(broken)]
    code, lines, _ = run_worker(tmp_path, inputPaths=inputs, bundlePath=str(tiny_bundle), runner=testing.RUNNER)
    assert code == 0
    first, second = lines[-1]["result"]["items"]
    assert first["inputPath"] == str(input_volume) and "heatmap" in first["maps"]
    assert second["error"]["message"]
    assert any(line.get("message", "").startswith("[2/2]") for line in lines[:-1])


def test_worker_process_parses_events_without_blocking(tmp_path, input_volume, tiny_bundle):
    request = {"inputPath": str(input_volume), "bundlePath": str(tiny_bundle), "outputDir": str(tmp_path / "out"),
               "runner": testing.RUNNER}  # fmt: skip
    job = process.WorkerProcess(process.writeRequest(tmp_path, request), sys.executable, [str(REPO)]).start()
    assert isinstance(job.poll(), list)  # returns at once, even before the first line
    events = job.wait(timeout=120)
    kinds = [type(event).__name__ for event in events]
    assert kinds[0] == "ProgressEvent" and kinds[-2:] == ["ResultEvent", "ExitEvent"]
    assert events[-1].returnCode == 0
