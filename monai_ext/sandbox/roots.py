"""Where a sandboxed run may read: the system, the Python installation and its imports, and the run's own files.

Everything else is unreadable under Landlock: the home folder (``~/.ssh``, ``~/.aws``, browser profiles), other
users' data, other processes' ``/proc/<pid>/environ``, ``/etc/shadow`` and raw disks in ``/dev``. A root that
contains the home folder (a ``sys.path`` entry of ``""`` run from ``~``) is dropped: the packages already
imported from it are allowed one by one instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

__all__ = ["default_read_roots", "device_files", "python_roots", "system_roots"]

_SYSTEM = ("/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/sys")
_ETC: tuple[str, ...] = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "passwd", "group")
_ETC += (
    "nsswitch.conf",
    "host.conf",
    "hosts",
    "resolv.conf",
    "gai.conf",
    "mime.types",
    "os-release",
    "fonts",
    "matplotlibrc",
)
"""Only these of ``/etc``: not ``shadow``, ``ssh/`` host keys or a server's config with its passwords."""
_DEV = ("null", "zero", "full", "random", "urandom", "shm")
"""Only these of ``/dev``: not disks (readable by root) or terminals."""
_PROC_FILES = ("cpuinfo", "meminfo", "stat", "loadavg", "filesystems", "sys", "version", "driver/nvidia")
_NVIDIA = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")


def system_roots() -> list[Path]:
    """System folders (libraries, ``/sys``), a few ``/etc`` and ``/dev`` entries, and this process's ``/proc``."""
    roots = [Path(p) for p in _SYSTEM] + [Path("/etc") / n for n in _ETC] + [Path("/dev") / n for n in _DEV]
    roots.append(Path(f"/proc/{os.getpid()}"))  # /proc/self and /proc/thread-self resolve below it
    return roots + [Path("/proc") / name for name in _PROC_FILES]


def python_roots() -> list[Path]:
    """The interpreter, its prefixes, ``sys.path`` and the folder of every top-level package imported so far."""
    roots = [Path(sys.executable).parent, Path(os.path.realpath(sys.executable)).parent]
    roots += [Path(p) for p in {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}]
    roots += [Path(entry or os.getcwd()) for entry in sys.path if not entry.startswith("__")]
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if "." in name or not file:
            continue
        path = Path(file)
        roots.append(path.parent if path.name == "__init__.py" else path)
    roots += _matplotlib_dirs()
    return roots


def _matplotlib_dirs() -> list[Path]:
    """matplotlib's config and font-cache folders (read only: without them every run rebuilds the font cache)."""
    if os.environ.get("MPLCONFIGDIR"):
        return [Path(os.environ["MPLCONFIGDIR"])]
    home = Path.home()
    config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "matplotlib"
    return [config, Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / "matplotlib"]


def device_files() -> list[Path]:
    """Devices the run may open for writing and ``ioctl``: ``/dev/null`` and NVIDIA/DRM nodes when present."""
    devices = [Path("/dev/null")] + [Path("/dev") / name for name in _NVIDIA]
    devices += sorted(Path("/dev").glob("nvidia[0-9]*")) + sorted(Path("/dev/dri").glob("*"))
    return [d for d in devices if d.exists()]


def default_read_roots(extra: Iterable[str | os.PathLike[str]] = ()) -> list[Path]:
    """System and Python roots plus ``extra`` (the bundle, the inputs), made absolute, without duplicates.

    A root that is ``/``, or that contains the home folder, is dropped.
    """
    home = Path.home().resolve()
    seen: dict[str, Path] = {}
    for root in [*system_roots(), *python_roots(), *(Path(p) for p in extra)]:
        resolved = root.resolve() if root.exists() else root.absolute()
        if resolved == Path("/") or home == resolved or home.is_relative_to(resolved):
            continue
        seen.setdefault(str(resolved), resolved)
    return list(seen.values())
