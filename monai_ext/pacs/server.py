"""Where a PACS is and how to log in: from the command line, the environment or a configuration file.

A server is written as a URL:

- ``http://host:8042/dicom-web`` or ``https://...``: DICOMweb (QIDO-RS, WADO-RS, STOW-RS);
- ``dimse://CALLED_AE@host:104``: DIMSE (C-FIND, C-GET or C-MOVE, C-STORE); query parameters
  ``calling_ae=MONAIEXT``, ``retrieve=get|move`` and ``move_port=11113`` (where our storage SCP listens
  for C-MOVE, on this host) may follow, e.g. ``dimse://ORTHANC@pacs:4242?retrieve=move&move_port=11113``;
- or the name of an entry of the configuration file.

The configuration file (``--pacs-config``, else ``$MONAI_EXT_PACS_CONFIG``, else
``~/.config/monai-ext/pacs.json``) maps names to servers::

    {"servers": {"hospital": {"url": "https://pacs/dicom-web", "username": "me", "password_env": "PACS_PW"}}}

Credentials: ``username`` and ``password`` (or ``password_env``, the name of a variable holding it) in
the file entry, overridden by ``$MONAI_EXT_PACS_USERNAME`` / ``$MONAI_EXT_PACS_PASSWORD``, overridden by
``--username`` on the command line. A password is never read from the command line (it would show in the
process list) nor from a bundle.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from monai_ext.pacs.errors import PacsConfigError

__all__ = ["DEFAULT_CALLING_AE", "PacsServer", "default_config_path", "parse_server", "resolve_server"]

DEFAULT_CALLING_AE = "MONAIEXT"
_ENV_CONFIG = "MONAI_EXT_PACS_CONFIG"
_ENV_SERVER = "MONAI_EXT_PACS"
_ENV_USER = "MONAI_EXT_PACS_USERNAME"
_ENV_PASSWORD = "MONAI_EXT_PACS_PASSWORD"


@dataclass(frozen=True, kw_only=True)
class PacsServer:
    """A PACS and how to reach it.

    Attributes:
        protocol: ``"dicomweb"`` or ``"dimse"``.
        url: the DICOMweb base URL (``.../dicom-web``), or the ``dimse://`` URL as given.
        host, port: the DIMSE peer (DICOMweb: parsed from the URL, informational).
        called_ae: the PACS's AE title (DIMSE).
        calling_ae: our AE title (DIMSE); the PACS must know it for C-GET/C-MOVE.
        retrieve: ``"get"`` (C-GET, one association) or ``"move"`` (C-MOVE to our storage SCP on ``move_port``).
        move_port: the port our storage SCP listens on for C-MOVE.
        username, password: HTTP basic credentials (DICOMweb); the password is never printed.
        timeout: seconds to wait for the server (connect and each response).
    """

    protocol: Literal["dicomweb", "dimse"]
    url: str
    host: str = ""
    port: int = 0
    called_ae: str = "ANY-SCP"
    calling_ae: str = DEFAULT_CALLING_AE
    retrieve: Literal["get", "move"] = "get"
    move_port: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0

    @property
    def display(self) -> str:
        """The address without credentials, for messages."""
        return self.url


def parse_server(url: str, *, timeout: float = 30.0) -> PacsServer:
    """Parse a server URL (see the module docstring).

    Raises:
        PacsConfigError: not an ``http(s)://`` or ``dimse://`` URL, or a bad port or parameter.
    """
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        if parts.username or parts.password:
            raise PacsConfigError("put credentials in the environment or the config file, not in the URL")
        return PacsServer(
            protocol="dicomweb", url=url.rstrip("/"), host=parts.hostname or "", port=_port(parts), timeout=timeout
        )
    if parts.scheme != "dimse":
        raise PacsConfigError(f"a server is an http(s):// (DICOMweb) or dimse:// URL, or a configured name: {url!r}")
    if not parts.hostname or not parts.port:
        raise PacsConfigError(f"a DIMSE server needs a host and a port: dimse://AE@host:port, got {url!r}")
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    retrieve = options.pop("retrieve", "get")
    if retrieve not in ("get", "move"):
        raise PacsConfigError(f"retrieve must be 'get' or 'move', got {retrieve!r}")
    move_port = int(options.pop("move_port", "0") or 0)
    if retrieve == "move" and not move_port:
        raise PacsConfigError("retrieve=move needs move_port: the port our storage SCP listens on")
    calling = options.pop("calling_ae", DEFAULT_CALLING_AE)
    if options:
        raise PacsConfigError(f"unknown DIMSE options {sorted(options)} in {url!r}")
    return PacsServer(
        protocol="dimse",
        url=url,
        host=parts.hostname,
        port=parts.port,
        called_ae=parts.username or "ANY-SCP",
        calling_ae=calling,
        retrieve=retrieve,  # type: ignore[arg-type]
        move_port=move_port,
        timeout=timeout,
    )


def _port(parts: Any) -> int:
    try:
        return int(parts.port or (443 if parts.scheme == "https" else 80))
    except ValueError as err:
        raise PacsConfigError(f"bad port in {parts.geturl()!r}") from err


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$MONAI_EXT_PACS_CONFIG``, else ``~/.config/monai-ext/pacs.json``."""
    env = os.environ if environ is None else environ
    return Path(env.get(_ENV_CONFIG) or Path.home() / ".config" / "monai-ext" / "pacs.json")


def resolve_server(
    spec: str | None = None,
    *,
    config_path: str | os.PathLike[str] | None = None,
    username: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> PacsServer:
    """The server named by ``spec`` (a URL or a configuration entry; default ``$MONAI_EXT_PACS``), with credentials.

    Raises:
        PacsConfigError: no server given, unknown name, unreadable configuration file.
    """
    env = os.environ if environ is None else environ
    spec = spec or env.get(_ENV_SERVER)
    if not spec:
        raise PacsConfigError(f"no server given: pass --pacs URL or NAME, or set ${_ENV_SERVER}")
    entry: dict[str, Any] = {}
    if "://" not in spec:
        entry = _config_entry(spec, Path(config_path) if config_path else default_config_path(env))
        if "url" not in entry:
            raise PacsConfigError(f"the configured server {spec!r} has no 'url'")
        spec = str(entry["url"])
    server = parse_server(spec, timeout=float(entry.get("timeout", 30.0)))
    password = entry.get("password")
    if entry.get("password_env"):
        password = env.get(str(entry["password_env"]), password)
    return replace(
        server,
        calling_ae=str(entry.get("calling_ae", server.calling_ae)),
        username=username or env.get(_ENV_USER) or entry.get("username"),
        password=env.get(_ENV_PASSWORD) or password,
    )


def _config_entry(name: str, path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise PacsConfigError(f"{name!r} is not a URL and there is no configuration file {path}")
    try:
        servers = json.loads(path.read_text(encoding="utf-8")).get("servers", {})
    except (OSError, ValueError, AttributeError) as err:
        raise PacsConfigError(f"cannot read the PACS configuration {path}: {err}") from err
    if name not in servers:
        raise PacsConfigError(f"no server {name!r} in {path}; configured: {sorted(servers)}")
    return dict(servers[name])
