"""Cancel kills the worker and every process it started (its own process group / session)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import psutil
import pytest
from MonaiBundleExplorerLib.workerProcess import process

from .conftest import REPO

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX process groups (Windows uses taskkill /T)")


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def start_sleeper(tmp_path: Path, **extra) -> tuple[process.WorkerProcess, int]:
    request = {"inputPath": "unused", "bundlePath": str(tmp_path), "outputDir": str(tmp_path / "out"),
               "runner": "tests.slicer_module.tiny_runner:run_with_child",
               "trusted": True, **extra}  # fmt: skip  # trusted: the sandbox of untrusted requests forbids the child
    job = process.WorkerProcess(process.writeRequest(tmp_path, request), sys.executable, [str(REPO)]).start()
    deadline = time.monotonic() + 60
    while not any(isinstance(e, process.ProgressEvent) and e.stage == "waiting" for e in job.poll()):
        assert time.monotonic() < deadline and job.isRunning(), "the worker never reported its child"
        time.sleep(0.05)
    return job, int((tmp_path / "out" / "child.pid").read_text())


@pytest.mark.parametrize("ignore_sigterm", [False, True], ids=["sigterm", "escalates-to-sigkill"])
def test_cancel_kills_worker_and_child(tmp_path, ignore_sigterm):
    job, child_pid = start_sleeper(tmp_path, ignoreSigterm=ignore_sigterm)
    assert not gone(job.pid) and not gone(child_pid)
    started = time.monotonic()
    job.cancel(grace=0.5)
    assert time.monotonic() - started < 10
    assert gone(job.pid) and gone(child_pid)
    events = job.wait(timeout=10)
    assert isinstance(events[-1], process.ExitEvent) and events[-1].returnCode != 0
    assert job.cancelled


def test_a_timed_out_wait_stops_the_worker(tmp_path):
    job, child_pid = start_sleeper(tmp_path)
    with pytest.raises(TimeoutError, match="it was stopped"):
        job.wait(timeout=0.5)
    assert gone(job.pid) and gone(child_pid) and job.cancelled


def test_worker_processes_get_their_own_group_and_no_window():
    from MonaiBundleExplorerLib.workerProcess import subprocessOptions

    options = subprocessOptions.workerProcessOptions()
    assert options == {"start_new_session": True} and subprocessOptions.hiddenWindowOptions() == {}
