"""Thin ctypes access to the Linux system calls the sandbox uses (no compiler, no extra package)."""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from typing import Any

__all__ = ["PR_SET_NO_NEW_PRIVS", "SyscallError", "machine", "prctl", "syscall", "thread_count"]

PR_SET_NO_NEW_PRIVS = 38


class SyscallError(OSError):
    """A system call returned -1; ``errno`` and ``strerror`` say why."""


_libc: Any = None


def _lib() -> Any:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
        _libc.prctl.restype = ctypes.c_int
    return _libc


def syscall(number: int, *args: Any, name: str) -> int:
    """``syscall(number, *args)``; raises :class:`SyscallError` (with ``name`` in the message) on -1."""
    result = int(_lib().syscall(ctypes.c_long(number), *args))
    if result == -1:
        err = ctypes.get_errno()
        raise SyscallError(err, f"{name}: {os.strerror(err)}")
    return result


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """``prctl(2)``; raises :class:`SyscallError` on -1."""
    args = (ctypes.c_ulong(a) for a in (arg2, arg3, arg4, arg5))
    result = int(_lib().prctl(ctypes.c_int(option), *args))
    if result == -1:
        err = ctypes.get_errno()
        raise SyscallError(err, f"prctl({option}): {os.strerror(err)}")
    return result


def machine() -> str | None:
    """``"x86_64"`` or ``"aarch64"`` on Linux, the two architectures whose syscall numbers the sandbox knows."""
    if not sys.platform.startswith("linux"):
        return None
    name = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(name, name)


def thread_count() -> int:
    """Threads of this process (``/proc/self/task``); 1 where that cannot be read."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1
