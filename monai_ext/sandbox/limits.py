"""Resource limits (``setrlimit``, no cgroup needed): memory, CPU time, open files, file size, no core dumps.

Memory is capped with ``RLIMIT_DATA`` (private writable memory: heap and anonymous ``mmap``, since Linux 4.7),
not ``RLIMIT_AS``: torch and the CUDA driver reserve far more address space than they use (a CPU classifier
run here has 1.0 GiB of address space for 0.46 GiB of data; CUDA reserves tens of GiB), so an address-space cap
low enough to protect the machine breaks legitimate runs. Hard limits equal the soft ones (CPU: 5 s more, so the
run gets ``SIGXCPU`` before ``SIGKILL``), so the run cannot raise them again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from monai_ext.sandbox.protections import Protection

__all__ = ["ResourceLimits", "default_memory_bytes"]

GIB = 1 << 30
ADDRESS_SPACE_HEADROOM = 16 * GIB
"""Address space allowed beyond the memory cap on machines without an NVIDIA GPU: thread stacks, malloc arenas
and library mappings are reserved but not written (a CPU classifier run here: 1.0 GiB reserved, 0.46 GiB data)."""


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
        address_space: also cap ``RLIMIT_AS`` at ``memory_bytes`` + 16 GiB where no NVIDIA device exists (shared
            and ``memfd`` mappings escape ``RLIMIT_DATA``; the CUDA driver reserves too much for an AS cap).
        cpu_seconds: ``RLIMIT_CPU``, CPU time summed over threads; past it the kernel ends the run (``SIGXCPU``).
            Default: one hour per CPU core (a run using every core may take an hour of wall time).
        open_files: ``RLIMIT_NOFILE`` (a classifier run here peaks at 11 descriptors).
        file_size_bytes: ``RLIMIT_FSIZE``, the largest file the run may write (Python then gets ``EFBIG``).

    Example:
        >>> ResourceLimits(memory_bytes=4 << 30, cpu_seconds=600).resolved_cpu()
        600
    """

    memory_bytes: int | None = None
    address_space: bool = True
    cpu_seconds: int | None = None
    open_files: int | None = 512
    file_size_bytes: int | None = 4 * GIB

    def resolved_cpu(self) -> int:
        """``cpu_seconds``, or 3600 s per CPU core when it is ``None``."""
        return self.cpu_seconds if self.cpu_seconds is not None else 3600 * (os.cpu_count() or 1)

    def resolved_memory(self) -> int:
        """``memory_bytes``, or :func:`default_memory_bytes` when it is ``None``."""
        return self.memory_bytes if self.memory_bytes is not None else default_memory_bytes()

    def _address_space(self) -> int | None:
        if not self.address_space or any(Path("/dev").glob("nvidia*")):
            return None
        return self.resolved_memory() + ADDRESS_SPACE_HEADROOM

    def apply(self) -> Protection:
        """Set the limits on this process (and what it starts)."""
        try:
            import resource
        except ImportError:
            return Protection(name="resource_limits", active=False, detail="no setrlimit on this platform")
        wanted = {
            "RLIMIT_DATA": self.resolved_memory(),
            "RLIMIT_AS": self._address_space(),
            "RLIMIT_CPU": self.resolved_cpu(),
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
            ceiling = value + 5 if name == "RLIMIT_CPU" else value  # SIGXCPU (a message) at the soft limit, not SIGKILL
            if hard != resource.RLIM_INFINITY:
                ceiling = min(ceiling, hard)
            try:
                resource.setrlimit(kind, (value, ceiling))
            except (ValueError, OSError) as err:
                return Protection(name="resource_limits", active=False, detail=f"setrlimit({name}): {err}")
            done.append(f"{name.removeprefix('RLIMIT_').lower()}={_human(name, value)}")
        return Protection(name="resource_limits", active=True, detail=", ".join(done))


def _human(name: str, value: int) -> str:
    if name in ("RLIMIT_DATA", "RLIMIT_AS", "RLIMIT_FSIZE") and value >= GIB:
        return f"{value / GIB:.3g} GiB"
    return f"{value} s" if name == "RLIMIT_CPU" else str(value)
