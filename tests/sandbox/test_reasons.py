"""A protection that cannot be had says why, and the others still apply."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import landlock_abi, linux_only

pytestmark = linux_only

THREADED = """
import json, pathlib, sys, threading
stop = threading.Event()
threading.Thread(target=stop.wait, daemon=True).start()  # a second thread before the sandbox, like OpenBLAS's
from monai_ext.sandbox import SandboxPolicy, apply_sandbox
out = pathlib.Path(sys.argv[1])
protections = apply_sandbox(SandboxPolicy(write_dirs=(out,)))
try:
    (out.parent / "escaped.txt").write_text("x")
    outcome = "allowed"
except OSError as err:
    outcome = type(err).__name__
print(json.dumps({"protections": protections.to_json(), "write_outside": outcome}))
"""


def test_a_threaded_process_gets_no_namespace_and_says_why(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", THREADED, str(tmp_path / "out")], capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    report = json.loads(done.stdout)
    items = report["protections"]["items"]
    namespace = items["user_network_namespace"]
    assert namespace["active"] is False and "already has 2 threads" in namespace["detail"]
    assert items["seccomp"]["active"] is True and "all threads" in items["seccomp"]["detail"]
    if landlock_abi() is not None:
        assert items["landlock_filesystem"]["active"] is True and report["write_outside"] == "PermissionError"
        assert "1 thread(s) started before it are not covered" in items["landlock_filesystem"]["detail"]
    assert not (tmp_path / "escaped.txt").exists()
