"""Run one command as a child process and measure it: the benchmarks that time whole CLI runs share this."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time

__all__ = ["run_measured"]


def run_measured(command: list[str], env: dict[str, str]) -> tuple[int, float, float, str]:
    """Exit code, wall seconds, the child's peak RSS in MB (``wait4``) and its stdout+stderr."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        log.seek(0)
        text = log.read().decode(errors="replace")
    return os.waitstatus_to_exitcode(status), wall, usage.ru_maxrss / 1024.0, text
