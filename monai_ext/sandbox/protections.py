"""The record of which kernel protections are in force in this process, and why a missing one is missing."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PROTECTION_NAMES", "Protection", "Protections"]

PROTECTION_NAMES = (
    "landlock_filesystem",
    "landlock_network",
    "landlock_scope",
    "user_network_namespace",
    "seccomp",
    "capabilities_dropped",
    "resource_limits",
)
"""Every protection a run reports, in the order they are applied."""


@dataclass(frozen=True, kw_only=True)
class Protection:
    """One protection: whether it is active, and what it does (active) or why it is missing (inactive).

    Args:
        name: one of :data:`PROTECTION_NAMES`.
        active: the kernel enforces it in this process.
        detail: what it enforces when active; the reason (old kernel, not Linux, not permitted) when not.
    """

    name: str
    active: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        """``{"active": bool, "detail": str}``."""
        return {"active": self.active, "detail": self.detail}


@dataclass(frozen=True, kw_only=True)
class Protections:
    """Which protections a process runs under, for ``result.json`` (``"protections"``) and the CLI.

    Args:
        sandboxed: a sandbox was asked for (``False`` for trusted runs, ``--no-sandbox`` and plain library use).
        items: one :class:`Protection` per name of :data:`PROTECTION_NAMES`.
        system: the platform and kernel release (``"Linux 6.18.44"``).
        landlock_abi: the kernel's Landlock ABI version, ``None`` where Landlock is unavailable.

    Example:
        >>> p = Protections.none("trusted bundle: not sandboxed")
        >>> p.active_names(), p.to_json()["items"]["seccomp"]["detail"]
        ([], 'trusted bundle: not sandboxed')
    """

    sandboxed: bool
    items: tuple[Protection, ...]
    system: str = field(default_factory=lambda: f"{platform.system()} {platform.release()}")
    landlock_abi: int | None = None

    @classmethod
    def none(cls, reason: str, *, sandboxed: bool = False) -> Protections:
        """Every protection inactive for one ``reason`` (trusted run, ``--no-sandbox``, not Linux)."""
        items = tuple(Protection(name=name, active=False, detail=reason) for name in PROTECTION_NAMES)
        return cls(sandboxed=sandboxed, items=items)

    def get(self, name: str) -> Protection:
        """The protection called ``name``."""
        for item in self.items:
            if item.name == name:
                return item
        raise KeyError(name)

    def active_names(self) -> list[str]:
        """Names of the active protections, in application order."""
        return [item.name for item in self.items if item.active]

    def to_json(self) -> dict[str, Any]:
        """The JSON form for ``result.json``: ``sandboxed``, ``system``, ``landlock_abi``, ``active``, ``items``."""
        return {
            "sandboxed": self.sandboxed,
            "system": self.system,
            "landlock_abi": self.landlock_abi,
            "active": self.active_names(),
            "items": {item.name: item.to_json() for item in self.items},
        }

    def lines(self) -> list[str]:
        """One human-readable line per protection, for the CLI."""
        if not self.active_names():
            head = "sandbox: no protection is active" + ("" if self.sandboxed else " (not sandboxed)")
        else:
            head = f"sandbox: {len(self.active_names())}/{len(self.items)} protections active ({self.system})"
        marks = [f"  [{'x' if item.active else ' '}] {item.name}: {item.detail}" for item in self.items]
        return [head, *marks]
