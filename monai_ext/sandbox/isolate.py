"""Run a task in a forked child that is sandboxed first, relaying its output, and return its exit code.

Forking gives a single-threaded child even when the parent already runs threads (numpy's OpenBLAS pool starts
one at import), which a user namespace and a complete Landlock domain need; the parent stays unrestricted, so
in-process callers (tests, notebooks) are not sandboxed themselves, and it removes the child's temp folder.
The child's ``sys.stdout``/``sys.stderr`` are relayed to the parent's, so output looks the same as in-process.
"""

from __future__ import annotations

import io
import os
import selectors
import shutil
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from monai_ext.sandbox.apply import apply_sandbox, not_sandboxed
from monai_ext.sandbox.policy import SandboxPolicy
from monai_ext.sandbox.protections import Protections

__all__ = ["run_sandboxed"]

Task = Callable[[Protections], int]


def run_sandboxed(task: Task, policy: SandboxPolicy, *, expected_errors: tuple[type[BaseException], ...] = ()) -> int:
    """Run ``task(protections)`` under ``policy`` in a child process; returns its exit code.

    Args:
        task: the run; it gets the active protections (for ``result.json``) and returns an exit code.
        policy: the sandbox rules; its ``temp_dir`` is replaced by a private folder this function removes.
        expected_errors: errors reported as ``error: Type: message`` with exit code 2 (no traceback).

    Returns:
        The task's exit code; 2 for an expected error, a memory-limit failure or the CPU-time limit; 1 for
        another error or signal. Where ``os.fork`` is missing (Windows) the task runs in this process,
        unprotected, and its protections say so.
    """
    if not hasattr(os, "fork") or not sys.platform.startswith("linux"):
        with not_sandboxed(_no_fork_reason()) as protections:
            return task(protections)
    temp = Path(tempfile.mkdtemp(prefix="monai-ext-sandbox-"))
    policy = replace(policy, temp_dir=temp)
    try:
        return _fork_and_wait(task, policy, expected_errors)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _no_fork_reason() -> str:
    name = {"darwin": "macOS", "win32": "Windows"}.get(sys.platform, sys.platform)
    return f"not Linux ({name}): no kernel sandbox is available; only the safe config loader protects this run"


def _fork_and_wait(task: Task, policy: SandboxPolicy, expected: tuple[type[BaseException], ...]) -> int:
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which ends with os._exit
        os.close(out_r)
        os.close(err_r)
        _child(task, policy, expected, out_w, err_w)
    os.close(out_w)
    os.close(err_w)
    _relay({out_r: sys.stdout, err_r: sys.stderr})
    _, status = os.waitpid(pid, 0)
    return _exit_code(status, policy)


def _child(task: Task, policy: SandboxPolicy, expected: tuple[type[BaseException], ...], out: int, err: int) -> None:
    sys.stdout = io.TextIOWrapper(io.FileIO(out, "w"), encoding="utf-8", errors="backslashreplace", line_buffering=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(err, "w"), encoding="utf-8", errors="backslashreplace", line_buffering=True)
    code = 1
    try:
        code = int(task(apply_sandbox(policy)) or 0)
    except expected as error:
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        code = 2
    except MemoryError:
        limit = policy.limits.resolved_memory() / (1 << 30)
        print(
            f"error: MemoryError: the run needed more than the sandbox's {limit:.3g} GiB memory limit", file=sys.stderr
        )
        code = 2
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _relay(streams: dict[int, TextIO]) -> None:
    selector = selectors.DefaultSelector()
    for fd in streams:
        selector.register(fd, selectors.EVENT_READ)
    decoders = {fd: io.IncrementalNewlineDecoder(None, translate=False) for fd in streams}
    while selector.get_map():
        for key, _ in selector.select():
            chunk = os.read(key.fd, 65536)
            if not chunk:
                selector.unregister(key.fd)
                os.close(key.fd)
                continue
            streams[key.fd].write(decoders[key.fd].decode(chunk.decode("utf-8", "backslashreplace")))
            streams[key.fd].flush()
    selector.close()


def _exit_code(status: int, policy: SandboxPolicy) -> int:
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    number = os.WTERMSIG(status)
    if number == signal.SIGXCPU:
        print(f"error: the run reached the sandbox's CPU-time limit ({policy.limits.cpu_seconds} s)", file=sys.stderr)
        return 2
    name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
    print(f"error: the sandboxed run was ended by {name}", file=sys.stderr)
    return 1
