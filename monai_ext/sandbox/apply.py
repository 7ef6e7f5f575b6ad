"""Apply a :class:`SandboxPolicy` to this process, and remember which protections are in force.

Order matters: resource limits; the user + network namespace (needs a single-threaded process and must write
``/proc/self/uid_map`` before Landlock forbids it); Landlock; dropping capabilities; seccomp last (it denies
``unshare``). Each step that the kernel refuses is recorded with its reason and the others still apply.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from monai_ext.sandbox import landlock, seccomp
from monai_ext.sandbox.namespaces import enter_user_network_namespace
from monai_ext.sandbox.policy import SandboxPolicy
from monai_ext.sandbox.privileges import drop_privileges
from monai_ext.sandbox.protections import Protection, Protections
from monai_ext.sandbox.roots import default_read_roots, device_files
from monai_ext.sandbox.syscalls import SyscallError, thread_count

__all__ = ["apply_sandbox", "current_protections", "not_sandboxed"]

_NOT_APPLIED = "no sandbox was applied in this process"
_current: Protections | None = None


def current_protections() -> Protections:
    """The protections in force in this process (all inactive until :func:`apply_sandbox` ran)."""
    return _current if _current is not None else Protections.none(_NOT_APPLIED)


@contextlib.contextmanager
def not_sandboxed(reason: str) -> Iterator[Protections]:
    """Record, for the duration of a run, why it is not sandboxed (``--trusted``, ``--no-sandbox``)."""
    global _current
    previous, _current = _current, Protections.none(reason)
    try:
        yield _current
    finally:
        _current = previous


def _unavailable_reason() -> str | None:
    if sys.platform.startswith("linux"):
        return None
    name = {"darwin": "macOS", "win32": "Windows"}.get(sys.platform, platform.system())
    return f"not Linux ({name}): no kernel sandbox is available; only the safe config loader protects this run"


def _private_temp(policy: SandboxPolicy) -> Path:
    if policy.temp_dir is not None:
        temp = policy.temp_dir
        temp.mkdir(parents=True, exist_ok=True)
    else:
        temp = Path(tempfile.mkdtemp(prefix=".sandbox-tmp-", dir=policy.write_dirs[0]))
        atexit.register(shutil.rmtree, temp, True)  # inside a writable folder, so the sandbox may remove it
    for name in ("TMPDIR", "TEMP", "TMP"):
        os.environ[name] = str(temp)
    tempfile.tempdir = str(temp)
    return temp


def apply_sandbox(policy: SandboxPolicy) -> Protections:
    """Restrict this process for the rest of its life; returns (and records) what is active.

    Call it in a process that exits after the run (the CLI's forked child, the Slicer worker), before the
    bundle is loaded and, for Landlock and the namespaces, before the process starts threads.

    Args:
        policy: folders, read roots and limits.

    Returns:
        One :class:`Protection` per protection, active or with the reason it is missing.
    """
    global _current
    reason = _unavailable_reason()
    if reason is not None:
        _current = Protections.none(reason, sandboxed=True)
        return _current
    for folder in policy.write_dirs:
        folder.mkdir(parents=True, exist_ok=True)
    temp = _private_temp(policy)
    writable = [folder.resolve() for folder in policy.write_dirs] + [temp.resolve()]
    reads = default_read_roots(policy.read_paths) if policy.restrict_reads else None
    items = [policy.limits.apply(), enter_user_network_namespace()]
    earlier = thread_count() - 1
    try:
        found, abi = landlock.restrict(write_dirs=writable, read_roots=reads, device_files=device_files(),
                                       deny_execute=not policy.allow_spawn)  # fmt: skip
    except SyscallError as err:
        found, abi = [Protection(name=n, active=False, detail=f"Landlock refused: {err}") for n in landlock.NAMES], None
    if found[0].active:
        where = ", ".join(str(p) for p in writable)
        gap = f"; {earlier} thread(s) started before it are not covered" if earlier > 0 else ""
        found[0] = Protection(name=found[0].name, active=True, detail=f"{found[0].detail}; writable: {where}{gap}")
    items += [*found, drop_privileges(), seccomp.install(allow_spawn=policy.allow_spawn)]
    order = {name: index for index, name in enumerate(p.name for p in Protections.none("").items)}
    _current = Protections(sandboxed=True, items=tuple(sorted(items, key=lambda p: order[p.name])), landlock_abi=abi)
    return _current
