"""The seccomp BPF program, run on a small BPF interpreter for both architectures (aarch64 cannot run here)."""

from __future__ import annotations

import errno
import struct

import pytest

from monai_ext.sandbox.seccomp import build_filter

ALLOW, ERRNO = 0x7FFF0000, 0x00050000
ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
# (socket, clone, clone3, execve, read, connect, ptrace) per architecture
NR = {"x86_64": (41, 56, 435, 59, 0, 42, 101), "aarch64": (198, 220, 435, 221, 63, 203, 117)}
CLONE_THREAD, SIGCHLD, AF_UNIX, AF_INET, AF_NETLINK = 0x10000, 17, 1, 2, 16
THREAD_FLAGS = 0x3D0F00  # glibc pthread_create: CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|...


def run(program: bytes, *, nr: int, arch: int, arg0: int = 0) -> int:
    """Interpret the classic-BPF subset the filter uses on one ``struct seccomp_data``."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, arg0, 0, 0, 0, 0, 0)
    ops = [struct.unpack("HBBI", program[i : i + 8]) for i in range(0, len(program), 8)]
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = ops[pc]
        if code == 0x20:  # ld [k]
            acc = struct.unpack_from("<I", data, k)[0]
        elif code == 0x06:
            return k
        elif code in (0x15, 0x35, 0x45):
            hit = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += jt if hit else jf
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")
        pc += 1


@pytest.mark.parametrize("arch", sorted(ARCH))
def test_filter_decisions(arch: str) -> None:
    program = build_filter(arch)
    socket_nr, clone, clone3, execve, read, connect, ptrace = NR[arch]

    def decide(nr: int, arg0: int = 0, audit: int = ARCH[arch]) -> int:
        return run(program, nr=nr, arch=audit, arg0=arg0)

    assert decide(read) == ALLOW
    assert decide(socket_nr, AF_UNIX) == ALLOW
    assert decide(socket_nr, AF_INET) == decide(socket_nr, AF_NETLINK) == ERRNO | errno.EPERM
    assert decide(clone, THREAD_FLAGS) == ALLOW  # torch / OpenMP threads
    assert decide(clone, SIGCHLD) == ERRNO | errno.EPERM  # fork()
    assert decide(clone3) == ERRNO | errno.ENOSYS  # glibc falls back to clone
    assert decide(execve) == decide(connect) == decide(ptrace) == ERRNO | errno.EPERM
    other = ARCH["aarch64" if arch == "x86_64" else "x86_64"]
    assert decide(read, audit=other) == ERRNO | errno.ENOSYS  # a foreign ABI never reaches the rules
    spawning = build_filter(arch, allow_spawn=True)
    assert run(spawning, nr=clone, arch=ARCH[arch], arg0=SIGCHLD) == ALLOW
    assert run(spawning, nr=socket_nr, arch=ARCH[arch], arg0=AF_INET) == ERRNO | errno.EPERM


def test_x32_calls_are_refused_on_x86_64() -> None:
    assert run(build_filter("x86_64"), nr=0x40000000 | 0, arch=ARCH["x86_64"]) == ERRNO | errno.ENOSYS
