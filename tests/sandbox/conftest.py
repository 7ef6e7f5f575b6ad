"""Shared pieces of the sandbox tests: a tiny classifier input, a TCP listener on 127.0.0.1, kernel probes."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import nibabel as nib
import pytest

from monai_ext.sandbox import landlock
from tests.bundle.conftest import ellipsoid_mask, oblique_affine

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel sandbox is Linux-only")


def landlock_abi() -> int | None:
    """The kernel's Landlock ABI version (``None`` without Landlock)."""
    return landlock.abi_version()[0]


def tiny_mask(path: Path) -> Path:
    """A 32x40x24 ellipsoid mask on an oblique grid (what the shipped classifier expects), saved to ``path``."""
    nib.save(nib.Nifti1Image(ellipsoid_mask((32, 40, 24), (6.0, 9.0, 5.0)), oblique_affine((1.0, 1.0, 1.5))), path)
    return path


class Listener:
    """A TCP server socket on 127.0.0.1 that counts the connections it was offered."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(8)
        self.socket.setblocking(False)
        self.port = self.socket.getsockname()[1]

    def accepted(self) -> int:
        """Connections waiting or made so far (accepts them all, without blocking)."""
        count = 0
        while True:
            try:
                connection, _ = self.socket.accept()
            except BlockingIOError:
                return count
            connection.close()
            count += 1


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.socket.close()
