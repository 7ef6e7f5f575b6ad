"""Landlock: restrict file writes (and reads) to allowed folders, deny TCP, scope signals and abstract sockets.

Raw system calls through ctypes: the ``landlock`` PyPI package (1.0.0.dev5) covers only the file-system half
(no ``handled_access_net``, no ``scoped``), and needs no more than these three calls do. What is enforced
depends on the kernel's ABI version (:func:`abi_version`): 1 (Linux 5.13) files, 2 cross-folder renames,
3 truncation, 4 TCP bind/connect, 5 device ioctls, 6 signal and abstract-socket scoping.

Landlock restricts the calling thread and the threads and processes it starts afterwards: apply it before
the process starts worker threads (or in a freshly forked, single-threaded child).
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Iterable
from pathlib import Path

from monai_ext.sandbox.protections import Protection
from monai_ext.sandbox.syscalls import PR_SET_NO_NEW_PRIVS, SyscallError, machine, prctl, syscall

__all__ = ["abi_version", "restrict"]

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # the same on x86_64 and aarch64
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR, MAKE_REG = 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8
MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15  # ABI 2, 3, 5
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # the only rights a rule on a file may hold
_WRITE_RIGHTS = (
    WRITE_FILE | TRUNCATE | REMOVE_DIR | REMOVE_FILE | MAKE_CHAR | MAKE_DIR | MAKE_REG | MAKE_SOCK | MAKE_FIFO
) | (MAKE_BLOCK | MAKE_SYM | REFER)
_READ_RIGHTS = READ_FILE | READ_DIR
_IN_WRITABLE_DIR = _READ_RIGHTS | WRITE_FILE | TRUNCATE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | REFER
"""What a writable folder grants: no symlinks, sockets, fifos or device nodes, and nothing executes."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> tuple[int | None, str]:
    """The kernel's Landlock ABI version, or ``None`` and the reason it is unavailable."""
    if machine() is None:
        return None, "not Linux: Landlock is a Linux security module"
    try:
        return syscall(
            _CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION), name="landlock"
        ), ""
    except SyscallError as err:
        if err.errno == errno.ENOSYS:
            return None, "kernel without Landlock (needs Linux 5.13+ built with CONFIG_SECURITY_LANDLOCK)"
        if err.errno == errno.EOPNOTSUPP:
            return None, "Landlock is disabled at boot (not in the kernel's lsm= list)"
        return None, f"Landlock unavailable: {err}"


def _supported_fs(abi: int) -> int:
    rights = (1 << 13) - 1
    rights |= REFER if abi >= 2 else 0
    rights |= TRUNCATE if abi >= 3 else 0
    return rights | (IOCTL_DEV if abi >= 5 else 0)


def _add_path(ruleset: int, path: Path, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a root that does not exist grants nothing
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        if rights:
            attr = _PathBeneathAttr(allowed_access=rights, parent_fd=fd)
            syscall(
                _ADD_RULE,
                ctypes.c_int(ruleset),
                ctypes.c_int(_RULE_PATH_BENEATH),
                ctypes.byref(attr),
                ctypes.c_uint32(0),
                name=f"landlock_add_rule({path})",
            )
    finally:
        os.close(fd)


def restrict(
    *,
    write_dirs: Iterable[Path],
    read_roots: Iterable[Path] | None,
    device_files: Iterable[Path] = (),
    deny_execute: bool = True,
) -> tuple[list[Protection], int | None]:
    """Restrict this thread (and what it starts) with one Landlock domain.

    Args:
        write_dirs: folders (created beforehand) where files may be created, written, renamed and removed.
        read_roots: folders and files that may be read; ``None`` leaves reads unrestricted.
        device_files: device files that may be read, written and ``ioctl``-ed (``/dev/null``, GPU nodes).
        deny_execute: refuse ``execve`` of every file.

    Returns:
        The ``landlock_filesystem``, ``landlock_network`` and ``landlock_scope`` protections, and the ABI version.
    """
    abi, reason = abi_version()
    if abi is None:
        return [Protection(name=n, active=False, detail=reason) for n in NAMES], None
    fs_supported = _supported_fs(abi)
    handled_fs = _WRITE_RIGHTS | (EXECUTE if deny_execute else 0) | (_READ_RIGHTS if read_roots is not None else 0)
    handled_fs &= fs_supported
    attr = _RulesetAttr(
        fs=handled_fs,
        net=NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0,
        scoped=SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0,
    )
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = syscall(
        _CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0), name="landlock_create_ruleset"
    )
    try:
        for folder in write_dirs:
            _add_path(ruleset, folder, _IN_WRITABLE_DIR & handled_fs)
        for root in read_roots or ():
            _add_path(ruleset, root, _READ_RIGHTS & handled_fs)
        for device in device_files:
            _add_path(ruleset, device, (READ_FILE | WRITE_FILE | TRUNCATE | IOCTL_DEV) & handled_fs)
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        syscall(_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0), name="landlock_restrict_self")
    finally:
        os.close(ruleset)
    return _describe(abi, read_roots is not None, deny_execute), abi


NAMES = ("landlock_filesystem", "landlock_network", "landlock_scope")


def _describe(abi: int, reads: bool, execute: bool) -> list[Protection]:
    fs = "writes only in the output and temp folders"
    fs += "; reads only below the allowed roots" if reads else "; reads unrestricted"
    fs += "; no execve" if execute else ""
    fs += "" if abi >= 2 else " (ABI 1: renames across folders not controlled)"
    net = Protection(
        name="landlock_network",
        active=abi >= 4,
        detail="TCP bind and connect denied" if abi >= 4 else f"Landlock ABI {abi} < 4 (needs Linux 6.7): no TCP rules",
    )
    scope = Protection(
        name="landlock_scope",
        active=abi >= 6,
        detail="no signals to, or abstract UNIX sockets of, processes outside the sandbox"
        if abi >= 6
        else f"Landlock ABI {abi} < 6 (needs Linux 6.12): no signal/abstract-socket scoping",
    )
    return [Protection(name="landlock_filesystem", active=True, detail=f"{fs} (ABI {abi})"), net, scope]
