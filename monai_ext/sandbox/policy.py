"""What a sandboxed run may do: the folders it writes, the files it reads, its resource limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from monai_ext.sandbox.limits import ResourceLimits

__all__ = ["SandboxPolicy"]


@dataclass(frozen=True, kw_only=True)
class SandboxPolicy:
    """The rules :func:`~monai_ext.sandbox.apply.apply_sandbox` enforces.

    Args:
        write_dirs: output folders (created if missing) where the run may create, replace and delete files.
        read_paths: the run's own inputs (bundle folder or zip, input volumes or folders); the system and the
            Python installation are always readable.
        restrict_reads: deny reads outside ``read_paths`` and the default roots (see
            :func:`~monai_ext.sandbox.roots.default_read_roots`); ``False`` restricts writes only.
        temp_dir: the run's private temporary folder (``TMPDIR``); ``None`` makes one inside the first
            ``write_dirs`` entry, removed when the process exits.
        limits: memory, CPU-time, open-file and file-size caps.
        allow_spawn: let the run ``fork`` and ``execve`` (denied by default; threads always work).

    Example:
        >>> SandboxPolicy(write_dirs=(Path("/tmp/out"),)).limits.open_files
        512
    """

    write_dirs: tuple[Path, ...]
    read_paths: tuple[Path, ...] = ()
    restrict_reads: bool = True
    temp_dir: Path | None = None
    limits: ResourceLimits = field(default_factory=ResourceLimits)
    allow_spawn: bool = False
