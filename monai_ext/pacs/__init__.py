"""PACS access: query studies and series, pull a series into a local cache, push results back.

Both DICOMweb (QIDO-RS, WADO-RS, STOW-RS with ``dicomweb-client``) and DIMSE (C-FIND, C-GET or C-MOVE,
C-STORE with ``pynetdicom``). Nothing here imports torch or MONAI.

Example:
    >>> from monai_ext.pacs import parse_server
    >>> parse_server("dimse://ORTHANC@127.0.0.1:4242").called_ae
    'ORTHANC'
"""

from __future__ import annotations

from monai_ext.pacs.cache import SeriesCache
from monai_ext.pacs.connection import PacsConnection, connect
from monai_ext.pacs.errors import (
    IncompleteTransferError,
    PacsAuthError,
    PacsConfigError,
    PacsError,
    PacsNotFoundError,
    PacsProtocolError,
    PacsUnreachableError,
    SeriesChangedError,
)
from monai_ext.pacs.pull import PulledSeries, default_cache_dir, pull_series
from monai_ext.pacs.push import dicom_files, push_files
from monai_ext.pacs.query import QueryFilters, list_instances, query_series, query_studies, series_record
from monai_ext.pacs.records import InstanceRecord, SeriesRecord, StudyRecord
from monai_ext.pacs.server import PacsServer, parse_server, resolve_server

__all__ = [
    "IncompleteTransferError",
    "InstanceRecord",
    "PacsAuthError",
    "PacsConfigError",
    "PacsConnection",
    "PacsError",
    "PacsNotFoundError",
    "PacsProtocolError",
    "PacsServer",
    "PacsUnreachableError",
    "PulledSeries",
    "QueryFilters",
    "SeriesCache",
    "SeriesChangedError",
    "SeriesRecord",
    "StudyRecord",
    "connect",
    "default_cache_dir",
    "dicom_files",
    "list_instances",
    "parse_server",
    "pull_series",
    "push_files",
    "query_series",
    "query_studies",
    "resolve_server",
    "series_record",
]
