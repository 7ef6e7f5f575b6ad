"""Typed errors of PACS access: each names the server and, where known, the study, series or instance."""

from __future__ import annotations

__all__ = [
    "IncompleteTransferError",
    "PacsAuthError",
    "PacsConfigError",
    "PacsError",
    "PacsNotFoundError",
    "PacsProtocolError",
    "PacsUnreachableError",
    "SeriesChangedError",
]


class PacsError(RuntimeError):
    """Base class: a problem talking to a PACS, or with what it sent.

    Args:
        message: what is wrong, in plain words.
        server: the server's address (never its credentials).
    """

    def __init__(self, message: str, server: str = "") -> None:
        self.problem = message
        self.server = server
        super().__init__(f"{message} [server: {server}]" if server else message)


class PacsConfigError(PacsError):
    """The server address, credentials or configuration file cannot be used."""


class PacsUnreachableError(PacsError):
    """The server does not answer (connection refused, timeout, association rejected)."""


class PacsAuthError(PacsError):
    """The server refused the credentials (HTTP 401/403, association rejected for the AE title)."""


class PacsNotFoundError(PacsError):
    """The study, series or instance asked for is not on the server."""


class PacsProtocolError(PacsError):
    """The server answered with a failure status or something other than what was asked for."""


class SeriesChangedError(PacsError):
    """The series' instances on the server changed while it was being retrieved; retry the pull."""


class IncompleteTransferError(PacsError):
    """The server sent fewer instances than it reports for the series (a partial transfer)."""
