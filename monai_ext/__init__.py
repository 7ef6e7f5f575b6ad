"""monai_ext: scanner-grade medical imaging I/O, transforms, networks and explainability on MONAI.

Subpackages are imported on first attribute access (``monai_ext.engines.default_device()`` works after a
plain ``import monai_ext``, as bundle configs do with ``"$import monai_ext"``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__version__ = "0.1.0"

_SUBPACKAGES = ("bundle", "cli", "data", "engines", "explain", "io", "metrics", "networks", "transforms")

__all__ = ["__version__", *_SUBPACKAGES]


def __getattr__(name: str) -> ModuleType:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"monai_ext.{name}")
    raise AttributeError(f"module 'monai_ext' has no attribute {name!r}")
