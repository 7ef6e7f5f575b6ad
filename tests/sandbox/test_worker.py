"""The Slicer worker sandboxes untrusted requests (and only those) before the runner is imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import Listener, landlock_abi, linux_only

pytestmark = linux_only
REPO = Path(__file__).resolve().parents[2]
WORKER = REPO / "slicer_module" / "MonaiBundleExplorer" / "MonaiBundleExplorerLib" / "workerProcess" / "worker.py"


def run_worker(tmp_path: Path, listener: Listener, *, trusted: bool) -> dict[str, Any]:
    probe = {"outside": str(tmp_path / "escaped.txt"), "secret": str(tmp_path / "secret.txt"),
             "spawn_marker": str(tmp_path / "spawned.txt"), "port": listener.port, "outside_pid": os.getpid(),
             "out": str(tmp_path / "out")}  # fmt: skip
    (tmp_path / "secret.txt").write_text("TOPSECRET")
    request = {"bundlePath": str(tmp_path / "bundle"), "inputPath": str(tmp_path / "in.nii.gz"),
               "outputDir": probe["out"], "trusted": trusted, "probe": probe,
               "runner": "tests.sandbox.hooks:worker_escape_runner"}  # fmt: skip
    (tmp_path / "request.json").write_text(json.dumps(request))
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, str(WORKER), str(tmp_path / "request.json")], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])["result"]["attempts"]


@pytest.mark.skipif(landlock_abi() is None, reason="this kernel has no Landlock")
def test_untrusted_request_is_sandboxed(tmp_path: Path, listener: Listener) -> None:
    attempts = run_worker(tmp_path, listener, trusted=False)
    for name in ("write_outside", "read_secret", "connect_tcp", "spawn"):
        assert attempts[name].startswith("blocked: PermissionError"), (name, attempts[name])
    assert attempts["write_output"] == "allowed"
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "spawned.txt").exists()
    assert listener.accepted() == 0


def test_trusted_request_is_not_sandboxed(tmp_path: Path, listener: Listener) -> None:
    attempts = run_worker(tmp_path, listener, trusted=True)
    assert attempts["write_outside"] == attempts["read_secret"] == attempts["connect_tcp"] == "allowed"
    assert (tmp_path / "escaped.txt").read_text() == "escaped" and listener.accepted() == 1
