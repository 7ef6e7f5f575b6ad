"""This process's resident memory from ``/proc/self`` (Linux): the benchmarks that measure a load's peak share it."""

from __future__ import annotations

__all__ = ["read_memory_kib", "reset_peak_rss"]


def read_memory_kib() -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` of this process in KiB."""
    values = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values


def reset_peak_rss() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0); False when not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True
