"""The worker script as a real subprocess: progress lines, result, error lines and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
from MonaiBundleExplorerLib import testing
from MonaiBundleExplorerLib.workerProcess import process, worker

from .conftest import REPO


def run_worker(tmp_path, python_flags=(), **request):
    request = {"bundlePath": str(tmp_path), "outputDir": str(tmp_path / "out"), "device": "cpu", **request}
    request_path = process.writeRequest(tmp_path, request)
    env = {"PYTHONPATH": f"{process.MODULE_DIR}:{REPO}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, *python_flags, str(process.WORKER_SCRIPT), str(request_path)],
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


def test_missing_default_runner_is_reported_plainly(tmp_path, input_volume):
    """A Python without torch/MONAI (``-S``: no site-packages), as a bare PythonSlicer would be."""
    code, lines, _ = run_worker(tmp_path, inputPath=str(input_volume), python_flags=["-S"])
    assert code == worker.EXIT_RUNNER_MISSING
    assert lines[-1]["error"]["type"] == "RunnerNotInstalled"
    assert "monai_ext.bundle.runner" in lines[-1]["error"]["message"]
    assert "not installed" in lines[-1]["error"]["message"]


def test_untrusted_request_without_monai_ext_is_refused_not_run_unsandboxed(tmp_path, input_volume):
    """A worker Python without monai_ext (only the module's Lib on its path) cannot sandbox: nothing runs."""
    request = {"bundlePath": str(tmp_path), "outputDir": str(tmp_path / "out"), "inputPath": str(input_volume),
               "runner": testing.RUNNER}  # fmt: skip
    request_path = process.writeRequest(tmp_path, request)
    env = {"PYTHONPATH": str(process.MODULE_DIR), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-S", str(process.WORKER_SCRIPT), str(request_path)], capture_output=True,
                          text=True, env=env, timeout=60, check=False)  # fmt: skip
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == worker.EXIT_RUNNER_MISSING and len(lines) == 1  # no progress: the runner never started
    assert lines[0]["error"]["type"] == "RunnerNotInstalled" and "sandbox" in lines[0]["error"]["message"]
    assert not any((tmp_path / "out").iterdir())


def test_real_runner_with_the_shipped_classifier(tmp_path, oblique_affine):
    """The default runner end to end in a subprocess: probabilities, and a heatmap on the input's grid."""
    mask = np.zeros((30, 36, 24), np.float32)
    mask[8:22, 10:28, 7:17] = 1.0
    path = tmp_path / "mask.nii.gz"
    nib.save(nib.Nifti1Image(mask, oblique_affine), path)
    bundle = REPO / "bundles" / "adrenal_hyperplasia_classifier_3d"
    code, lines, stderr = run_worker(tmp_path, inputPath=str(path), bundlePath=str(bundle), heatmapMethod="gradcampp")
    assert code == 0, stderr
    result = lines[-1]["result"]
    assert result["classNames"] == ["normal", "hyperplasia"] and sum(result["probabilities"]) == pytest.approx(1.0)
    heatmap = nib.load(result["maps"]["heatmap"])
    assert heatmap.shape == mask.shape
    np.testing.assert_allclose(heatmap.affine, oblique_affine, atol=1e-5)
    assert result["heatmap_method"] == "gradcampp" and result["bundle"]["trusted"] is False
    assert {line.get("stage") for line in lines[:-1]} >= {"bundle", "load", "heatmap", "write"}  # one pass


def test_sandboxed_worker_reads_the_background_of_a_label_map(tmp_path, oblique_affine):
    """backgroundPath (optional): the untrusted worker may read it, and the montage is drawn over it."""
    from matplotlib.image import imread

    mask = np.zeros((30, 36, 24), np.float32)
    mask[8:22, 10:28, 7:17] = 1.0
    path = tmp_path / "mask.nii.gz"
    nib.save(nib.Nifti1Image(mask, oblique_affine), path)
    (tmp_path / "ct").mkdir()
    ct = tmp_path / "ct" / "ct.nii.gz"  # not beside the input: only backgroundPath lets the sandbox read it
    nib.save(nib.Nifti1Image(np.where(mask > 0, 40.0, -1000.0).astype(np.float32), oblique_affine), ct)
    bundle = REPO / "bundles" / "adrenal_hyperplasia_classifier_3d"
    code, lines, stderr = run_worker(tmp_path, inputPath=str(path), bundlePath=str(bundle), backgroundPath=str(ct))
    assert code == 0, stderr
    result = lines[-1]["result"]
    assert result["background"]["path"] == str(ct) and result["background"]["window"] == [-160.0, 240.0]
    assert result["protections"]["sandboxed"] and result["protections"]["items"]["landlock_filesystem"]["active"]
    png = imread(result["montages"]["heatmap"])[..., :3]
    assert ((png[..., 0] < 0.35) & (png[..., 1] > 0.75) & (png[..., 2] > 0.75)).sum() > 100  # the outline


def test_real_runner_refuses_an_untrusted_payload(tmp_path, input_volume):
    import shutil

    bundle = tmp_path / "evil_bundle"
    shutil.copytree(REPO / "bundles" / "adrenal_hyperplasia_classifier_3d", bundle,
                    ignore=shutil.ignore_patterns("runs", "eval", "*.onnx", "*.ts"))  # fmt: skip
    config = json.loads((bundle / "configs" / "inference.json").read_text())
    marker = tmp_path / "pwned"
    config["network_def"]["in_channels"] = f"$__import__('os').system('touch {marker}') or 2"
    (bundle / "configs" / "inference.json").write_text(json.dumps(config))
    code, lines, _ = run_worker(tmp_path, inputPath=str(input_volume), bundlePath=str(bundle))
    assert code == worker.EXIT_ERROR
    error = lines[-1]["error"]
    assert error["type"] == "UntrustedCodeError" and "network_def::in_channels" in error["message"]
    assert not marker.exists()


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
