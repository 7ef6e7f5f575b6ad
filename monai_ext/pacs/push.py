"""Store DICOM files on a PACS (STOW-RS or C-STORE)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from monai_ext.pacs.connection import PacsConnection, connect
from monai_ext.pacs.errors import PacsConfigError
from monai_ext.pacs.server import PacsServer

__all__ = ["dicom_files", "push_files"]


def dicom_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files given, and the ``.dcm`` files under folders given, sorted.

    Raises:
        PacsConfigError: a path does not exist, or nothing to send.
    """
    found: list[Path] = []
    for item in map(Path, paths):
        if item.is_dir():
            found += sorted(p for p in item.rglob("*.dcm") if p.is_file() and not p.name.startswith("."))
        elif item.is_file():
            found.append(item)
        else:
            raise PacsConfigError(f"no such file or folder: {item}")
    if not found:
        raise PacsConfigError("no DICOM files to send")
    return found


def push_files(server: PacsServer | PacsConnection, paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Send the files (and ``.dcm`` files of folders) to the server; returns the files sent.

    Raises:
        PacsError: a subclass naming the server and the problem (refused instances included).
    """
    connection = connect(server) if isinstance(server, PacsServer) else server
    files = dicom_files(paths)
    connection.store(files)
    return files
