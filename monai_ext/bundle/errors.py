"""Typed errors of bundle loading and running; each message names the file (and key) at fault."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "BundleConfigError",
    "BundleError",
    "BundleFileError",
    "BundleInputError",
    "BundleLimitError",
    "UntrustedCodeError",
    "WeightsError",
]


class BundleError(ValueError):
    """Base class: a bundle cannot be loaded or run.

    Args:
        message: what is wrong, in plain words.
        path: the file (or folder) at fault, prefixed to the message.
    """

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)


class BundleFileError(BundleError):
    """A required bundle file is missing, unreadable, or not valid (JSON, schema, archive)."""


class BundleConfigError(BundleError):
    """A config value is wrong: a missing reference, a bad argument, an expression that fails (``$1/0``)."""


class BundleLimitError(BundleError):
    """The bundle asks for more than the runner allows: parameters, voxels, bytes, nesting (names the cap)."""


class WeightsError(BundleError):
    """The weights file fails its sha256, holds code (a pickle payload), or does not fit the network."""


class UntrustedCodeError(BundleError):
    """An untrusted bundle's config asks for code that safe loading refuses (an expression or a target)."""


class BundleInputError(BundleError):
    """The input volume cannot be used (unreadable, wrong dimensions, NaN, wrong channels)."""
