"""What a query returns: one record per study, series or instance, the same for DICOMweb and DIMSE."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from pydicom.dataset import Dataset

from monai_ext.pacs.errors import PacsNotFoundError

__all__ = ["InstanceRecord", "SeriesRecord", "StudyRecord", "check_uid"]

_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


def check_uid(uid: str, what: str) -> str:
    """Return ``uid`` if it is a syntactically valid DICOM UID, else raise :class:`PacsNotFoundError`."""
    if not uid or len(uid) > 64 or not _UID.match(uid):
        raise PacsNotFoundError(f"{what} {uid!r} is not a DICOM UID (digits and dots, at most 64 characters)")
    return uid


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    if value is None or value == "":
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def _int(ds: Dataset, keyword: str) -> int | None:
    value = ds.get(keyword)
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True, kw_only=True)
class StudyRecord:
    """One study as the server describes it (``n_series``/``n_instances`` when the server reports them)."""

    study_uid: str
    patient_id: str
    patient_name: str
    study_date: str
    study_description: str
    accession_number: str
    modalities: str
    n_series: int | None
    n_instances: int | None

    @classmethod
    def from_dataset(cls, ds: Dataset) -> StudyRecord:
        return cls(
            study_uid=_text(ds, "StudyInstanceUID"),
            patient_id=_text(ds, "PatientID"),
            patient_name=_text(ds, "PatientName"),
            study_date=_text(ds, "StudyDate"),
            study_description=_text(ds, "StudyDescription"),
            accession_number=_text(ds, "AccessionNumber"),
            modalities=_text(ds, "ModalitiesInStudy"),
            n_series=_int(ds, "NumberOfStudyRelatedSeries"),
            n_instances=_int(ds, "NumberOfStudyRelatedInstances"),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class SeriesRecord:
    """One series as the server describes it."""

    study_uid: str
    series_uid: str
    modality: str
    series_number: int | None
    series_description: str
    n_instances: int | None

    @classmethod
    def from_dataset(cls, ds: Dataset) -> SeriesRecord:
        return cls(
            study_uid=_text(ds, "StudyInstanceUID"),
            series_uid=_text(ds, "SeriesInstanceUID"),
            modality=_text(ds, "Modality"),
            series_number=_int(ds, "SeriesNumber"),
            series_description=_text(ds, "SeriesDescription"),
            n_instances=_int(ds, "NumberOfSeriesRelatedInstances"),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class InstanceRecord:
    """One instance: its UIDs and number."""

    sop_uid: str
    sop_class_uid: str
    instance_number: int | None

    @classmethod
    def from_dataset(cls, ds: Dataset) -> InstanceRecord:
        return cls(
            sop_uid=_text(ds, "SOPInstanceUID"),
            sop_class_uid=_text(ds, "SOPClassUID"),
            instance_number=_int(ds, "InstanceNumber"),
        )
