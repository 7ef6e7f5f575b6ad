"""``monai-ext pacs query``, ``pacs pull`` and ``pacs push``: DICOMweb or DIMSE, chosen by the server URL.

Imports nothing heavy at start: :mod:`monai_ext.pacs` (pydicom, dicomweb-client, pynetdicom; no torch) is
imported when a command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monai_ext.pacs import PacsServer

__all__ = ["CACHE_HELP", "add_server_arguments", "register", "server_from_args"]

CACHE_HELP = "cache folder (default $MONAI_EXT_PACS_CACHE, else ~/.cache/monai-ext/pacs)"


def add_server_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup, *, required: bool = True) -> None:
    """``--pacs``, ``--pacs-config`` and ``--username`` (passwords come from the environment or the config)."""
    parser.add_argument(
        "--pacs",
        required=False,
        default=None,
        metavar="SERVER",
        help="http(s)://host:port/dicom-web (DICOMweb), dimse://AE@host:port[?retrieve=move&move_port=N] "
        "(DIMSE), or a name from the config file; default $MONAI_EXT_PACS"
        + ("" if required else "; with --study/--series the input comes from this server"),
    )
    parser.add_argument("--pacs-config", type=Path, default=None, help="server config JSON (default ~/.config/...)")
    parser.add_argument("--username", default=None, help="DICOMweb user (password: $MONAI_EXT_PACS_PASSWORD)")


def server_from_args(args: argparse.Namespace) -> PacsServer:
    """The server the arguments name (see :func:`monai_ext.pacs.resolve_server`)."""
    from monai_ext.pacs import resolve_server

    return resolve_server(args.pacs, config_path=args.pacs_config, username=args.username)


def _query(args: argparse.Namespace) -> int:
    from monai_ext.pacs import QueryFilters, connect, query_series, query_studies

    connection = connect(server_from_args(args))
    filters = QueryFilters(
        patient_id=args.patient_id,
        patient_name=args.patient_name,
        study_date=args.study_date,
        modality=args.modality,
        accession_number=args.accession,
        study_description=args.study_description,
        series_description=args.series_description,
    )
    rows: list[dict[str, Any]]
    if args.level == "study" and args.study is None:
        rows = [r.as_dict() for r in query_studies(connection, filters)]
    else:
        rows = [r.as_dict() for r in query_series(connection, filters, study_uid=args.study)]
    if args.json:
        print(json.dumps({"server": connection.server.display, "level": args.level, "results": rows}, indent=2))
        return 0
    for row in rows:
        if "series_uid" in row:
            print(
                f"{row['modality'] or '-':<3} {row['study_uid']} {row['series_uid']} #{row['series_number']} "
                f"'{row['series_description']}' ({row['n_instances']} instances)"
            )
        else:
            print(
                f"{row['study_date'] or '-':<8} {row['study_uid']} patient {row['patient_id'] or '-'} "
                f"acc {row['accession_number'] or '-'} {row['modalities'] or '-'} '{row['study_description']}' "
                f"({row['n_series']} series, {row['n_instances']} instances)"
            )
    print(f"{len(rows)} {args.level if args.study is None else 'series'} found", file=sys.stderr)
    return 0


def _pull(args: argparse.Namespace) -> int:
    from monai_ext.pacs import pull_series

    def progress(done: int, total: int) -> None:
        if not args.json and (done == total or done % 16 == 0):
            print(f"  {done}/{total} instances", file=sys.stderr)

    pulled = pull_series(
        server_from_args(args),
        study_uid=args.study,
        series_uid=args.series,
        cache_dir=args.cache,
        progress=progress,
    )
    if args.json:
        print(json.dumps({**pulled.__dict__, "path": str(pulled.path)}, indent=2))
    else:
        print(
            f"{pulled.path} ({pulled.n_instances} instances: {pulled.fetched} fetched, {pulled.reused} already cached, "
            f"{pulled.seconds:.2f} s)"
        )
    return 0


def _push(args: argparse.Namespace) -> int:
    from monai_ext.pacs import push_files

    files = push_files(server_from_args(args), args.paths)
    print(f"stored {len(files)} file(s)")
    return 0


def register(commands: Any) -> None:
    """Add ``pacs query``, ``pacs pull`` and ``pacs push``."""
    pacs = commands.add_parser("pacs", help="query, pull from and push to a PACS (DICOMweb or DIMSE)")
    sub = pacs.add_subparsers(dest="pacs_command", required=True)
    query = sub.add_parser("query", help="find studies or series (C-FIND or QIDO-RS)")
    add_server_arguments(query)
    query.add_argument("--level", choices=("study", "series"), default="study", help="what to list (default study)")
    query.add_argument("--study", default=None, help="list the series of this StudyInstanceUID")
    query.add_argument("--patient-id", default="", help="PatientID (wildcards * and ? allowed)")
    query.add_argument("--patient-name", default="", help="PatientName, e.g. 'DOE^J*'")
    query.add_argument("--study-date", default="", help="YYYYMMDD or a range YYYYMMDD-YYYYMMDD")
    query.add_argument("--modality", default="", help="CT, MR, ... (ModalitiesInStudy / Modality)")
    query.add_argument("--accession", default="", help="AccessionNumber")
    query.add_argument("--study-description", default="", help="StudyDescription (wildcards allowed)")
    query.add_argument("--series-description", default="", help="SeriesDescription (series level)")
    query.add_argument("--json", action="store_true", help="print one JSON object")
    query.set_defaults(handler=_query)
    pull = sub.add_parser("pull", help="retrieve a series into the local cache (C-GET/C-MOVE or WADO-RS)")
    add_server_arguments(pull)
    pull.add_argument("--study", required=True, help="StudyInstanceUID")
    pull.add_argument("--series", required=True, help="SeriesInstanceUID")
    pull.add_argument("--cache", type=Path, default=None, help=CACHE_HELP)
    pull.add_argument("--json", action="store_true", help="print one JSON object")
    pull.set_defaults(handler=_pull)
    push = sub.add_parser("push", help="store DICOM files on the server (STOW-RS or C-STORE)")
    add_server_arguments(push)
    push.add_argument("paths", nargs="+", type=Path, help="DICOM files, or folders of .dcm files")
    push.set_defaults(handler=_push)
