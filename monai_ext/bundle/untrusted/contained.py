"""Files of an untrusted bundle stay inside it: no symlink may lead out, no path may climb out.

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "configs").mkdir()
    >>> inside(root, root / "configs") == (root / "configs").resolve()
    True
"""

from __future__ import annotations

import os
from pathlib import Path

from monai_ext.bundle.errors import BundleFileError, BundleLimitError

__all__ = ["MAX_ENTRIES", "check_links", "inside"]

MAX_ENTRIES = 100_000  # files and folders of one bundle


def inside(root: Path, path: Path) -> Path:
    """``path`` resolved (symlinks followed), refused unless it lies inside ``root``.

    Raises:
        BundleFileError: the path, or a symlink on it, leads outside the bundle (names the path).
    """
    base = root.resolve()
    resolved = path.resolve()
    if resolved != base and not resolved.is_relative_to(base):
        raise BundleFileError(f"leads outside the bundle (to {resolved})", path)
    return resolved


def check_links(root: Path) -> None:
    """Refuse a bundle folder holding a symlink whose target lies outside it (or dangles).

    The walk does not follow symlinks and stops after :data:`MAX_ENTRIES` entries.

    Raises:
        BundleFileError: names the first such link and its target.
        BundleLimitError: the folder holds more than :data:`MAX_ENTRIES` entries.
    """
    base = root.resolve()
    seen = 0
    for folder, dirs, files in os.walk(base, followlinks=False):
        seen += len(dirs) + len(files)
        if seen > MAX_ENTRIES:
            raise BundleLimitError(f"the bundle holds more than {MAX_ENTRIES} files and folders", root)
        for name in (*dirs, *files):
            entry = Path(folder) / name
            if entry.is_symlink():
                target = entry.resolve()
                if not target.is_relative_to(base) or not target.exists():
                    raise BundleFileError(f"a symlink leads outside the bundle (to {target})", entry)
