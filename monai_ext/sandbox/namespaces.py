"""A new user + network namespace: the process keeps its files but sees no network interface (only a down ``lo``).

``unshare(CLONE_NEWUSER | CLONE_NEWNET)`` needs no root where the kernel lets unprivileged users create user
namespaces (``user.max_user_namespaces`` > 0, no Debian ``kernel.unprivileged_userns_clone=0``, no AppArmor
``apparmor_restrict_unprivileged_userns``) and a single-threaded process. The caller's uid and gid are mapped
to themselves, so file ownership is unchanged. It is tried first in a throw-away child, because a half-made
namespace (entered, but the uid map refused) cannot be left and would break every file the run creates.
"""

from __future__ import annotations

import errno
import os

from monai_ext.sandbox.protections import Protection
from monai_ext.sandbox.syscalls import SyscallError, machine, syscall, thread_count

__all__ = ["enter_user_network_namespace"]

_UNSHARE = {"x86_64": 272, "aarch64": 97}
_CLONE_NEWUSER, _CLONE_NEWNET = 0x10000000, 0x40000000
NAME = "user_network_namespace"


def _enter(number: int) -> None:
    uid, gid = os.getuid(), os.getgid()
    syscall(number, _CLONE_NEWUSER | _CLONE_NEWNET, name="unshare(CLONE_NEWUSER|CLONE_NEWNET)")
    with open("/proc/self/setgroups", "w") as file:
        file.write("deny")
    with open("/proc/self/uid_map", "w") as file:
        file.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as file:
        file.write(f"{gid} {gid} 1")


def _probe(number: int) -> int:
    """0 when a forked child could enter the namespaces, else the errno that stopped it."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's exit status is the result
        try:
            _enter(number)
            code = 0
        except OSError as err:
            code = err.errno or errno.EPERM
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def enter_user_network_namespace() -> Protection:
    """Move this process into a new user and network namespace; an inactive protection says why not."""
    arch = machine()
    if arch is None:
        return Protection(name=NAME, active=False, detail="not Linux")
    if arch not in _UNSHARE:
        return Protection(name=NAME, active=False, detail=f"no syscall number for {arch}")
    threads = thread_count()
    if threads > 1:
        detail = f"process already has {threads} threads (unshare of a user namespace needs one)"
        return Protection(name=NAME, active=False, detail=detail)
    code = _probe(_UNSHARE[arch])
    if code != 0:
        why = os.strerror(code) if code > 0 else f"probe ended with {code}"
        detail = f"not permitted here ({why}): unprivileged user namespaces are disabled or restricted"
        return Protection(name=NAME, active=False, detail=detail)
    try:
        _enter(_UNSHARE[arch])
    except (SyscallError, OSError) as err:  # the probe passed, so this is unexpected
        raise RuntimeError(f"entering the user+network namespace failed after a successful probe: {err}") from err
    interfaces = _interfaces()
    seen = ", ".join(interfaces) or "none"
    return Protection(name=NAME, active=True, detail=f"own network namespace, interfaces: {seen} (lo is down)")


def _interfaces() -> list[str]:
    """Interfaces of this process's network namespace (``/proc/self/net/dev``; ``/sys/class/net`` shows the host's)."""
    try:
        with open("/proc/self/net/dev") as file:
            lines = file.read().splitlines()[2:]
    except OSError:
        return []
    return sorted(line.split(":", 1)[0].strip() for line in lines if ":" in line)
