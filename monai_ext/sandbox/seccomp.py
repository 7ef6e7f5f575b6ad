"""seccomp: a raw BPF filter that denies network sockets, ``connect``, process spawning and kernel-escape calls.

The filter (no libseccomp needed) returns ``EPERM`` for:

- ``socket()`` of any family but ``AF_UNIX`` (so no IPv4/IPv6, netlink, packet, vsock sockets), and every
  ``connect()`` (which also keeps the run off UNIX sockets such as an ssh-agent's or a container daemon's);
- ``execve``/``execveat``, ``fork``/``vfork`` and ``clone`` without ``CLONE_THREAD`` (threads keep working:
  torch's and OpenMP's pools are created with ``clone(CLONE_THREAD | ...)``); ``clone3`` gets ``ENOSYS`` so
  glibc falls back to ``clone``, whose flags the filter can read;
- ``ptrace``, ``process_vm_*``, namespace, mount, module, ``bpf``, ``perf_event_open``, keyring,
  ``io_uring`` (its operations would bypass this filter), ``userfaultfd`` and ``open_by_handle_at``.

Calls of a foreign architecture (32-bit ``int 0x80`` on x86_64, the x32 ABI) get ``ENOSYS``. The filter is
installed on every thread at once (``SECCOMP_FILTER_FLAG_TSYNC``).
"""

from __future__ import annotations

import ctypes
import errno
import struct

from monai_ext.sandbox.protections import Protection
from monai_ext.sandbox.syscalls import PR_SET_NO_NEW_PRIVS, SyscallError, machine, prctl, syscall

__all__ = ["build_filter", "install"]

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_SECCOMP = {"x86_64": 317, "aarch64": 277}
_SECCOMP_SET_MODE_FILTER, _FLAG_TSYNC = 1, 1
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000
_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_AF_UNIX, _CLONE_THREAD, _X32_BIT = 1, 0x00010000, 0x40000000

# name: (x86_64, aarch64); None where the architecture has no such call
_DENIED: dict[str, tuple[int | None, int | None]] = {
    "connect": (42, 203),
    "ptrace": (101, 117),
    "process_vm_readv": (310, 270),
    "process_vm_writev": (311, 271),
    "unshare": (272, 97),
    "setns": (308, 268),
    "mount": (165, 40),
    "umount2": (166, 39),
    "pivot_root": (155, 41),
    "chroot": (161, 51),
    "bpf": (321, 280),
    "perf_event_open": (298, 241),
    "kexec_load": (246, 104),
    "kexec_file_load": (320, 294),
    "keyctl": (250, 219),
    "add_key": (248, 217),
    "request_key": (249, 218),
    "userfaultfd": (323, 282),
    "init_module": (175, 105),
    "finit_module": (313, 273),
    "delete_module": (176, 106),
    "name_to_handle_at": (303, 264),
    "open_by_handle_at": (304, 265),
    **{name: (nr, nr) for name, nr in (("io_uring_setup", 425), ("io_uring_enter", 426), ("io_uring_register", 427))},
    **{name: (nr, nr) for name, nr in (("open_tree", 428), ("move_mount", 429), ("fsopen", 430), ("fsconfig", 431))},
    **{name: (nr, nr) for name, nr in (("fsmount", 432), ("fspick", 433), ("mount_setattr", 442))},
}
_SPAWN: dict[str, tuple[int | None, int | None]] = {
    "execve": (59, 221),
    "execveat": (322, 281),
    "fork": (57, None),
    "vfork": (58, None),
}
_SOCKET, _CLONE, _CLONE3 = (41, 198), (56, 220), (435, 435)


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def _deny(nr: int, error: int) -> bytes:
    return _op(_JEQ, nr, 0, 1) + _op(_RET, _RET_ERRNO | error)


def build_filter(arch: str, *, allow_spawn: bool = False) -> bytes:
    """The BPF program (``struct sock_filter[]`` bytes) for ``arch`` (``"x86_64"`` or ``"aarch64"``).

    Args:
        arch: the machine the filter runs on.
        allow_spawn: leave ``fork``/``execve`` alone (threads are never blocked).
    """
    index = 0 if arch == "x86_64" else 1
    arg0 = 16  # offsetof(struct seccomp_data, args[0]), low 32 bits on these little-endian machines
    prog = _op(_LD_ABS, 4) + _op(_JEQ, _AUDIT_ARCH[arch], 1, 0) + _op(_RET, _RET_ERRNO | errno.ENOSYS)
    prog += _op(_LD_ABS, 0)
    if arch == "x86_64":
        prog += _op(_JGE, _X32_BIT, 0, 1) + _op(_RET, _RET_ERRNO | errno.ENOSYS)
    calls = dict(_DENIED) | ({} if allow_spawn else _SPAWN)
    for numbers in calls.values():
        if numbers[index] is not None:
            prog += _deny(int(numbers[index]), errno.EPERM)  # type: ignore[arg-type]
    if not allow_spawn:
        prog += _deny(_CLONE3[index], errno.ENOSYS)
    prog += _op(_JEQ, _SOCKET[index], 0, 4) + _op(_LD_ABS, arg0) + _op(_JEQ, _AF_UNIX, 0, 1)
    prog += _op(_RET, _RET_ALLOW) + _op(_RET, _RET_ERRNO | errno.EPERM)
    if not allow_spawn:
        prog += _op(_JEQ, _CLONE[index], 0, 4) + _op(_LD_ABS, arg0) + _op(_JSET, _CLONE_THREAD, 0, 1)
        prog += _op(_RET, _RET_ALLOW) + _op(_RET, _RET_ERRNO | errno.EPERM)
    return prog + _op(_RET, _RET_ALLOW)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(*, allow_spawn: bool = False) -> Protection:
    """Install the filter on every thread of this process; an inactive protection says why it could not."""
    arch = machine()
    if arch is None:
        return Protection(name="seccomp", active=False, detail="not Linux")
    if arch not in _AUDIT_ARCH:
        return Protection(name="seccomp", active=False, detail=f"no syscall table for {arch} (x86_64, aarch64 only)")
    program = build_filter(arch, allow_spawn=allow_spawn)
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len=len(program) // 8, filter=ctypes.cast(buffer, ctypes.c_void_p))
    try:
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        scope = "all threads"
        try:
            syscall(
                _SECCOMP[arch],
                ctypes.c_uint(_SECCOMP_SET_MODE_FILTER),
                ctypes.c_uint(_FLAG_TSYNC),
                ctypes.byref(fprog),
                name="seccomp",
            )
        except SyscallError as err:
            if err.errno not in (errno.ENOSYS, errno.EINVAL):
                raise
            prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(fprog))
            scope = "this thread and those it starts"
    except SyscallError as err:
        reason = "kernel without seccomp filters" if err.errno in (errno.EINVAL, errno.ENOSYS) else str(err)
        return Protection(name="seccomp", active=False, detail=reason)
    spawn = "" if allow_spawn else "; no execve, fork or child processes (threads allowed)"
    detail = f"socket() only for AF_UNIX, no connect(){spawn}; no ptrace, namespaces, mounts, io_uring, bpf ({scope})"
    return Protection(name="seccomp", active=True, detail=detail)
