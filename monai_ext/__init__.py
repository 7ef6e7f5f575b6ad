"""monai_ext: scanner-grade medical imaging I/O, transforms, networks and explainability on MONAI."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
