"""Typed refusals of the zoo adapter: what a downloaded bundle asks for that the runner cannot or may not do."""

from __future__ import annotations

from monai_ext.bundle.errors import BundleError, UntrustedCodeError

__all__ = ["BundleCodeNeedsTrustError", "UnsupportedBundleError", "root_message"]


class UnsupportedBundleError(BundleError):
    """The bundle needs something the runner does not do (a 2D network on a 3D volume, an unknown inferer,
    a network its config cannot build under the installed MONAI)."""


class BundleCodeNeedsTrustError(UntrustedCodeError):
    """The bundle runs code from its own ``scripts/`` folder: only a trusted bundle may (``--trusted``)."""


def root_message(err: BaseException, limit: int = 300) -> str:
    """The innermost cause of ``err`` as ``"Type: message"`` (MONAI wraps a failing transform's error in
    ``RuntimeError("applying transform ...")``, which does not say what went wrong)."""
    while err.__cause__ is not None:
        err = err.__cause__
    first = (str(err).splitlines() or [""])[0]
    return f"{type(err).__name__}: {first}"[:limit]
