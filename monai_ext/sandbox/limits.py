"""Resource limits (``setrlimit``, no cgroup needed): memory, CPU time, open files, file size, no core dumps.

Memory is capped with ``RLIMIT_DATA`` (private writable memory: heap and anonymous ``mmap``, since Linux 4.7),
not ``RLIMIT_AS``: torch and the CUDA driver reserve far more address space than they use (a CPU classifier
run here has 1.0 GiB of address space for 0.46 GiB of data; CUDA reserves tens of GiB), so an address-space cap
low enough to protect the machine breaks legitimate runs. Hard limits equal the soft ones, so the run cannot
raise them again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from monai_ext.sandbox.protections import Protection

__all__ = ["ResourceLimits", "default_memory_bytes"]

GIB = 1 << 30


def default_memory_bytes() -> int:
    """Half of this machine's physical memory, at least 2 GiB (24 GiB here -> 12 GiB)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * GIB
    return max(2 * GIB, total // 2)


@dataclass(frozen=True, kw_only=True)
class ResourceLimits:
    """Caps for a sandboxed run; ``None`` leaves one as the process had it.

    Args:
        memory_bytes: ``RLIMIT_DATA``; past it allocations fail (``MemoryError``). Default: half the RAM.
        cpu_seconds: ``RLIMIT_CPU``, CPU time summed over threads; past it the kernel ends the run (``SIGXCPU``).
        open_files: ``RLIMIT_NOFILE`` (a classifier run here peaks at 11 descriptors).
        file_size_bytes: ``RLIMIT_FSIZE``, the largest file the run may write (Python then gets ``EFBIG``).

    Example:
        >>> ResourceLimits(memory_bytes=4 << 30).cpu_seconds
        3600
    """

    memory_bytes: int | None = None
    cpu_seconds: int | None = 3600
    open_files: int | None = 512
    file_size_bytes: int | None = 4 * GIB

    def resolved_memory(self) -> int:
        """``memory_bytes``, or :func:`default_memory_bytes` when it is ``None``."""
        return self.memory_bytes if self.memory_bytes is not None else default_memory_bytes()

    def apply(self) -> Protection:
        """Set the limits on this process (and what it starts)."""
        try:
            import resource
        except ImportError:
            return Protection(name="resource_limits", active=False, detail="no setrlimit on this platform")
        wanted = {
            "RLIMIT_DATA": self.resolved_memory(),
            "RLIMIT_CPU": self.cpu_seconds,
            "RLIMIT_NOFILE": self.open_files,
            "RLIMIT_FSIZE": self.file_size_bytes,
            "RLIMIT_CORE": 0,
        }
        done = []
        for name, value in wanted.items():
            if value is None:
                continue
            kind = getattr(resource, name)
            _, hard = resource.getrlimit(kind)
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            try:
                resource.setrlimit(kind, (value, value))
            except (ValueError, OSError) as err:
                return Protection(name="resource_limits", active=False, detail=f"setrlimit({name}): {err}")
            done.append(f"{name.removeprefix('RLIMIT_').lower()}={_human(name, value)}")
        return Protection(name="resource_limits", active=True, detail=", ".join(done))


def _human(name: str, value: int) -> str:
    if name in ("RLIMIT_DATA", "RLIMIT_FSIZE") and value >= GIB:
        return f"{value / GIB:.3g} GiB"
    return f"{value} s" if name == "RLIMIT_CPU" else str(value)
