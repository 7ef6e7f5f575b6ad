"""Classification probabilities and segment volumes as a Comprehensive 3D SR (TID 1500 measurement report).

Class probabilities go in one image-level measurement group (TID 1501) that cites every source image,
with the predicted class as a qualitative evaluation; each SEG segment gets a volumetric ROI group
(TID 1411) that references the segment and its source series and holds its volume in mm3. Class names
have no standard codes, so they are coded in the private scheme ``99MONAIEXT`` (meaning = the name).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from monai_ext.dicom_results.equipment import MANUFACTURER, Algorithm
from monai_ext.dicom_results.errors import DicomResultError
from monai_ext.dicom_results.source import SourceSeries

__all__ = ["PRIVATE_SCHEME", "SegmentVolume", "measurement_report"]

PRIVATE_SCHEME = "99MONAIEXT"
_PROCEDURES = {
    "CT": codes.LN.CTUnspecifiedBodyRegion,
    "MR": codes.LN.MRIUnspecifiedBodyRegion,
    "PT": codes.LN.PETUnspecifiedBodyRegion,
}


@dataclass(frozen=True, kw_only=True)
class SegmentVolume:
    """A segment of a written SEG and its volume.

    Attributes:
        seg: the SEG dataset.
        segment_number: 1-based, as in the SEG.
        name: the segment's label.
        volume_mm3: its volume.
    """

    seg: Dataset
    segment_number: int
    name: str
    volume_mm3: float


def _code(value: str, meaning: str) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(value=value[:16], scheme_designator=PRIVATE_SCHEME, meaning=meaning[:64])


def _classification_group(
    source: SourceSeries, class_names: Sequence[str], probabilities: Sequence[float], algorithm: Algorithm
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    measurements = [
        hd.sr.Measurement(
            name=_code(f"P{index}", f"Probability of {name}"),
            value=float(p),
            unit=codes.UCUM.NoUnits,
            algorithm_id=algorithm.sr_identification(),
        )
        for index, (name, p) in enumerate(zip(class_names, probabilities, strict=True))
    ]
    best = max(range(len(probabilities)), key=lambda i: probabilities[i])
    predicted = hd.sr.QualitativeEvaluation(
        name=_code("PREDICTED", "Predicted class"), value=_code(f"C{best}", class_names[best])
    )
    images = [
        hd.sr.SourceImageForMeasurementGroup(
            referenced_sop_class_uid=str(ds.SOPClassUID), referenced_sop_instance_uid=str(ds.SOPInstanceUID)
        )
        for ds in source.datasets
    ]
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="classification"),
        algorithm_id=algorithm.sr_identification(),
        measurements=measurements,
        qualitative_evaluations=[predicted],
        source_images=images,
    )


def _volume_group(
    item: SegmentVolume, source: SourceSeries
) -> hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations:
    segment = hd.sr.ReferencedSegment(
        sop_class_uid=str(item.seg.SOPClassUID),
        sop_instance_uid=str(item.seg.SOPInstanceUID),
        segment_number=item.segment_number,
        source_series=hd.sr.SourceSeriesForSegmentation(source.series_uid),
    )
    return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=item.name[:64]),
        referenced_segment=segment,
        finding_type=_code(f"S{item.segment_number}", item.name),
        measurements=[hd.sr.Measurement(name=codes.SCT.Volume, value=item.volume_mm3, unit=codes.UCUM.CubicMillimeter)],
    )


def measurement_report(
    source: SourceSeries,
    *,
    algorithm: Algorithm,
    class_names: Sequence[str] = (),
    probabilities: Sequence[float] = (),
    volumes: Sequence[SegmentVolume] = (),
    series_number: int = 904,
) -> hd.sr.Comprehensive3DSR:
    """The SR of a run: class probabilities (if any) and segment volumes (if any).

    Raises:
        DicomResultError: nothing to report, or names and probabilities of different lengths.
    """
    if len(class_names) != len(probabilities):
        raise DicomResultError(f"{len(class_names)} class names for {len(probabilities)} probabilities")
    groups: list[
        hd.sr.MeasurementsAndQualitativeEvaluations | hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations
    ] = []
    if probabilities:
        groups.append(_classification_group(source, class_names, probabilities, algorithm))
    groups += [_volume_group(item, source) for item in volumes]
    if not groups:
        raise DicomResultError("no probabilities or segment volumes to report")
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(), name=algorithm.name[:64], manufacturer_name=MANUFACTURER, model_name=algorithm.version[:64]
        ),
    )
    modality = str(source.datasets[0].get("Modality", ""))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=_PROCEDURES.get(modality, codes.SCT.ImagingProcedure),
        imaging_measurements=groups,
    )
    segs = {str(v.seg.SOPInstanceUID): v.seg for v in volumes}
    evidence = [*source.datasets, *segs.values()]
    return hd.sr.Comprehensive3DSR(
        evidence=evidence,
        content=report,
        series_instance_uid=hd.UID(),
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=True,
        series_description=f"{algorithm.name} report"[:64],
    )
