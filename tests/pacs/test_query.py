"""Query a real Orthanc for studies and series by patient, date, modality, description and accession."""

from __future__ import annotations

import pytest

from monai_ext.pacs import PacsServer, QueryFilters, connect, list_instances, query_series, query_studies
from tests.pacs.conftest import SeriesOnServer

pytestmark = pytest.mark.realdata


def test_study_filters(server: PacsServer, ct_on_server: SeriesOnServer, mr_on_server: SeriesOnServer) -> None:
    connection = connect(server)
    everything = {s.study_uid for s in query_studies(connection, QueryFilters())}
    assert {ct_on_server.study_uid, mr_on_server.study_uid} <= everything
    by_patient = query_studies(connection, QueryFilters(patient_id="LIDC-IDRI-0314"))
    assert [s.study_uid for s in by_patient] == [ct_on_server.study_uid]
    assert by_patient[0].accession_number == "2819497684894126" and by_patient[0].study_date == "20000101"
    assert by_patient[0].n_instances == 64 and by_patient[0].modalities == "CT"
    by_date = {s.study_uid for s in query_studies(connection, QueryFilters(study_date="19991231-20000102"))}
    assert ct_on_server.study_uid in by_date and mr_on_server.study_uid not in by_date
    by_accession = query_studies(connection, QueryFilters(accession_number="2819497684894126"))
    assert [s.study_uid for s in by_accession] == [ct_on_server.study_uid]
    by_modality = {s.study_uid for s in query_studies(connection, QueryFilters(modality="MR"))}
    assert mr_on_server.study_uid in by_modality and ct_on_server.study_uid not in by_modality
    assert query_studies(connection, QueryFilters(patient_id="NO-SUCH-PATIENT")) == []


def test_series_and_instances(server: PacsServer, mr_on_server: SeriesOnServer) -> None:
    connection = connect(server)
    series = query_series(connection, QueryFilters(), study_uid=mr_on_server.study_uid)
    record = next(s for s in series if s.series_uid == mr_on_server.series_uid)
    assert record.modality == "MR" and record.n_instances == 35
    described = query_series(connection, QueryFilters(series_description=record.series_description))
    assert record.series_uid in {s.series_uid for s in described}
    wildcard = query_series(connection, QueryFilters(modality="MR", series_description="*"))
    assert record.series_uid in {s.series_uid for s in wildcard}
    instances = list_instances(connection, mr_on_server.study_uid, mr_on_server.series_uid)
    assert len(instances) == 35 and all(i.sop_class_uid == "1.2.840.10008.5.1.4.1.1.4" for i in instances)
