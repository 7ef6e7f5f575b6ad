"""Give up privileges: ``no_new_privs`` (set-uid binaries and file capabilities stop working) and every capability.

Dropping capabilities matters when the runner is started as root (CI, containers): root keeps its uid but loses
``CAP_DAC_OVERRIDE``, ``CAP_SYS_ADMIN``, ``CAP_SYS_RESOURCE`` (so resource limits cannot be raised again) and the rest.
"""

from __future__ import annotations

import ctypes

from monai_ext.sandbox.protections import Protection
from monai_ext.sandbox.syscalls import PR_SET_NO_NEW_PRIVS, SyscallError, machine, prctl, syscall

__all__ = ["drop_privileges"]

_CAPSET = {"x86_64": 126, "aarch64": 91}
_CAPABILITY_VERSION_3 = 0x20080522
NAME = "capabilities_dropped"


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_privileges() -> Protection:
    """Set ``no_new_privs`` and clear the effective, permitted and inheritable capability sets."""
    arch = machine()
    if arch is None or arch not in _CAPSET:
        return Protection(name=NAME, active=False, detail="not Linux" if arch is None else f"no capset for {arch}")
    try:
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        header = _CapHeader(version=_CAPABILITY_VERSION_3, pid=0)
        data = (_CapData * 2)()  # all zero: no capability in any set
        syscall(_CAPSET[arch], ctypes.byref(header), data, name="capset")
    except SyscallError as err:
        return Protection(name=NAME, active=False, detail=str(err))
    return Protection(name=NAME, active=True, detail="no_new_privs set; no capabilities left (even as root)")
