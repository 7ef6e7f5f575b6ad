"""PACS access: query studies and series, pull a series into a local cache, push results back.

Both DICOMweb (QIDO-RS, WADO-RS, STOW-RS with ``dicomweb-client``) and DIMSE (C-FIND, C-GET or C-MOVE,
C-STORE with ``pynetdicom``). Nothing here imports torch or MONAI, and names are imported on first use
(``import monai_ext.pacs.errors`` costs nothing), so the command line stays quick.

Example:
    >>> from monai_ext.pacs import parse_server
    >>> parse_server("dimse://ORTHANC@127.0.0.1:4242").called_ae
    'ORTHANC'
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SeriesCache": "cache",
    "PacsConnection": "connection",
    "connect": "connection",
    "IncompleteTransferError": "errors",
    "PacsAuthError": "errors",
    "PacsConfigError": "errors",
    "PacsError": "errors",
    "PacsNotFoundError": "errors",
    "PacsProtocolError": "errors",
    "PacsUnreachableError": "errors",
    "SeriesChangedError": "errors",
    "PulledSeries": "pull",
    "default_cache_dir": "pull",
    "pull_series": "pull",
    "dicom_files": "push",
    "push_files": "push",
    "QueryFilters": "query",
    "list_instances": "query",
    "query_series": "query",
    "query_studies": "query",
    "series_record": "query",
    "InstanceRecord": "records",
    "SeriesRecord": "records",
    "StudyRecord": "records",
    "PacsServer": "server",
    "parse_server": "server",
    "resolve_server": "server",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"monai_ext.pacs.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'monai_ext.pacs' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
