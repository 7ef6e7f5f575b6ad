"""Run a task in a fresh Python process that is sandboxed before it imports anything heavy, relaying its output.

A new interpreter (``python -m monai_ext.sandbox.child``) rather than ``fork()``: a child forked from a process
whose OpenMP pool has run (any torch op) hangs forever in its first parallel region (libgomp is not fork-safe),
and a fresh process is single-threaded, which a user namespace and a Landlock domain covering every thread need.
The sandbox is applied before numpy, torch or the bundle code are imported, so their thread pools and static
initialisers already run inside it. The caller stays unrestricted (tests and notebooks are not sandboxed
themselves), and the child's stdout and stderr are relayed to the caller's ``sys.stdout``/``sys.stderr``.
"""

from __future__ import annotations

import io
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, TextIO

from monai_ext.sandbox.apply import not_sandboxed
from monai_ext.sandbox.policy import SandboxPolicy
from monai_ext.sandbox.roots import python_roots

__all__ = ["policy_from_json", "policy_to_json", "run_sandboxed"]


def run_sandboxed(target: str, arguments: Mapping[str, Any], policy: SandboxPolicy) -> int:
    """Run ``target(arguments)`` (``"module:function"``, returning an exit code) in a sandboxed child process.

    Args:
        target: the function to call in the child; it reads the active protections with
            :func:`~monai_ext.sandbox.current_protections` and handles its own expected errors.
        arguments: JSON-serialisable keyword data for ``target``.
        policy: the sandbox rules; ``temp_dir`` is replaced by a private folder removed afterwards, and the
            folders of every package this process has imported are added to ``read_paths``.

    Returns:
        The child's exit code; 2 when it hit the CPU-time limit, 1 when a signal ended it. Off Linux the
        target runs in this process, unprotected, and its protections say so.
    """
    if not sys.platform.startswith("linux"):
        name = {"darwin": "macOS", "win32": "Windows"}.get(sys.platform, sys.platform)
        with not_sandboxed(f"not Linux ({name}): no kernel sandbox is available; only safe loading protects this run"):
            return int(_resolve(target)(dict(arguments)) or 0)
    temp = Path(tempfile.mkdtemp(prefix="monai-ext-sandbox-"))
    policy = replace(policy, temp_dir=temp, read_paths=(*policy.read_paths, *python_roots()))
    spec = json.dumps({"target": target, "arguments": dict(arguments), "policy": policy_to_json(policy)})
    command = [sys.executable, "-m", "monai_ext.sandbox.child", spec]
    env = _child_environment()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        with subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=env) as child:  # fmt: skip
            assert child.stdout is not None and child.stderr is not None
            _relay({child.stdout.fileno(): sys.stdout, child.stderr.fileno(): sys.stderr})
            code = child.wait()
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return _exit_code(code, policy)


def _child_environment() -> dict[str, str]:
    """This environment, with the folder holding ``monai_ext`` first on ``PYTHONPATH`` unless it is site-packages
    (a checkout or a ``sys.path.insert`` that the child would not find by itself)."""
    import monai_ext

    root = str(Path(monai_ext.__file__).resolve().parents[1])
    env = dict(os.environ)
    if Path(root).name not in ("site-packages", "dist-packages"):
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    return env


def _resolve(target: str) -> Any:
    import importlib

    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def policy_to_json(policy: SandboxPolicy) -> dict[str, Any]:
    """The policy as JSON data (paths as strings)."""
    data = asdict(policy)
    data["write_dirs"] = [str(p) for p in policy.write_dirs]
    data["read_paths"] = [str(p) for p in policy.read_paths]
    data["temp_dir"] = None if policy.temp_dir is None else str(policy.temp_dir)
    return data


def policy_from_json(data: Mapping[str, Any]) -> SandboxPolicy:
    """The inverse of :func:`policy_to_json`."""
    from monai_ext.sandbox.limits import ResourceLimits

    return SandboxPolicy(
        write_dirs=tuple(Path(p) for p in data["write_dirs"]),
        read_paths=tuple(Path(p) for p in data["read_paths"]),
        restrict_reads=bool(data["restrict_reads"]),
        temp_dir=None if data["temp_dir"] is None else Path(data["temp_dir"]),
        limits=ResourceLimits(**data["limits"]),
        allow_spawn=bool(data["allow_spawn"]),
    )


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
                continue
            streams[key.fd].write(decoders[key.fd].decode(chunk.decode("utf-8", "backslashreplace")))
            streams[key.fd].flush()
    selector.close()


def _exit_code(code: int, policy: SandboxPolicy) -> int:
    if code >= 0:
        return code
    if -code == signal.SIGXCPU:
        print(
            f"error: the run reached the sandbox's CPU-time limit ({policy.limits.resolved_cpu()} s)", file=sys.stderr
        )
        return 2
    name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
    print(f"error: the sandboxed run was ended by {name}", file=sys.stderr)
    return 1
