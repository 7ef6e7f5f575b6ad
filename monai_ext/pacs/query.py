"""Query a PACS for studies, series and instances (C-FIND or QIDO-RS through a :class:`PacsConnection`)."""

from __future__ import annotations

from dataclasses import dataclass

from monai_ext.pacs.connection import PacsConnection
from monai_ext.pacs.errors import PacsNotFoundError
from monai_ext.pacs.records import InstanceRecord, SeriesRecord, StudyRecord, check_uid

__all__ = ["QueryFilters", "list_instances", "query_series", "query_studies", "series_record"]

_STUDY_KEYS = (
    "StudyInstanceUID",
    "PatientID",
    "PatientName",
    "StudyDate",
    "StudyDescription",
    "AccessionNumber",
    "ModalitiesInStudy",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
)
_SERIES_KEYS = (
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "Modality",
    "SeriesNumber",
    "SeriesDescription",
    "NumberOfSeriesRelatedInstances",
)
_INSTANCE_KEYS = ("SOPInstanceUID", "SOPClassUID", "InstanceNumber")


@dataclass(frozen=True, kw_only=True)
class QueryFilters:
    """Matching keys; empty ones match anything. DICOM matching applies: ``*`` wildcards in text,
    ``YYYYMMDD-YYYYMMDD`` ranges for ``study_date``."""

    patient_id: str = ""
    patient_name: str = ""
    study_date: str = ""
    modality: str = ""
    accession_number: str = ""
    study_description: str = ""
    series_description: str = ""

    def study_keys(self) -> dict[str, str]:
        keys = dict.fromkeys(_STUDY_KEYS, "")
        keys |= {
            "PatientID": self.patient_id,
            "PatientName": self.patient_name,
            "StudyDate": self.study_date,
            "AccessionNumber": self.accession_number,
            "StudyDescription": self.study_description,
            "ModalitiesInStudy": self.modality,
        }
        return keys

    def series_keys(self) -> dict[str, str]:
        keys = dict.fromkeys(_SERIES_KEYS, "")
        return keys | {"Modality": self.modality, "SeriesDescription": self.series_description}


def query_studies(connection: PacsConnection, filters: QueryFilters) -> list[StudyRecord]:
    """The studies matching ``filters`` (study-level keys), sorted by date then UID."""
    found = [StudyRecord.from_dataset(ds) for ds in connection.find("STUDY", filters.study_keys())]
    return sorted(found, key=lambda r: (r.study_date, r.study_uid))


def query_series(
    connection: PacsConnection, filters: QueryFilters, *, study_uid: str | None = None
) -> list[SeriesRecord]:
    """The series matching ``filters``: of one study, or of every study matching the study-level filters."""
    if study_uid is not None:
        study_uids = [check_uid(study_uid, "StudyInstanceUID")]
    else:
        study_uids = [s.study_uid for s in query_studies(connection, filters)]
    keys = filters.series_keys()
    found = []
    for uid in study_uids:
        found += [SeriesRecord.from_dataset(ds) for ds in connection.find("SERIES", keys | {"StudyInstanceUID": uid})]
    return sorted(found, key=lambda r: (r.study_uid, r.series_number or 0, r.series_uid))


def series_record(connection: PacsConnection, study_uid: str, series_uid: str) -> SeriesRecord:
    """The one series with these UIDs.

    Raises:
        PacsNotFoundError: no such series in that study.
    """
    keys = dict.fromkeys(_SERIES_KEYS, "") | {
        "StudyInstanceUID": check_uid(study_uid, "StudyInstanceUID"),
        "SeriesInstanceUID": check_uid(series_uid, "SeriesInstanceUID"),
    }
    found = [SeriesRecord.from_dataset(ds) for ds in connection.find("SERIES", keys)]
    found = [r for r in found if r.series_uid == series_uid]
    if not found:
        raise PacsNotFoundError(f"no series {series_uid} in study {study_uid}", connection.server.display)
    return found[0]


def list_instances(connection: PacsConnection, study_uid: str, series_uid: str) -> list[InstanceRecord]:
    """Every instance of a series, sorted by SOPInstanceUID (duplicates dropped)."""
    keys = dict.fromkeys(_INSTANCE_KEYS, "") | {"StudyInstanceUID": study_uid, "SeriesInstanceUID": series_uid}
    records = {r.sop_uid: r for r in map(InstanceRecord.from_dataset, connection.find("IMAGE", keys)) if r.sop_uid}
    return [records[uid] for uid in sorted(records)]
