"""Bundle-local code (``scripts/``): imported from the bundle root, and only for a trusted bundle."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from monai_ext.bundle.zoo.errors import BundleCodeNeedsTrustError

__all__ = ["bundle_code", "refuse_bundle_code"]

PACKAGE = "scripts"


def refuse_bundle_code(targets: list[str], config: Path) -> None:
    """Refuse an untrusted bundle whose runner keys name classes of its own ``scripts/`` folder.

    Raises:
        BundleCodeNeedsTrustError: names the config, the classes, and the way to run it (``--trusted``).
    """
    if targets:
        raise BundleCodeNeedsTrustError(
            f"the bundle defines {', '.join(targets)} in its own scripts/ folder: that is code, which an untrusted "
            "bundle may not run; if you trust its source, pass --trusted (Slicer: tick 'Trusted bundle')",
            config,
        )


@contextmanager
def bundle_code(root: Path) -> Iterator[None]:
    """Make ``import scripts...`` find ``root/scripts`` while the bundle's network is built (trusted only).

    A ``scripts`` package already imported (another bundle's) is set aside first and restored afterwards, so
    two bundles in one worker process never see each other's code. Classes built inside keep working after
    the block: their modules stay referenced by the objects.
    """
    saved = {name: module for name, module in sys.modules.items() if _ours(name)}
    for name in saved:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        yield
    finally:
        with suppress(ValueError):
            sys.path.remove(str(root))
        for name in [n for n in sys.modules if _ours(n)]:
            del sys.modules[name]
        sys.modules.update(saved)


def _ours(name: str) -> bool:
    return name == PACKAGE or name.startswith(PACKAGE + ".")
