"""Enhanced multi-frame DICOM: one :class:`SliceHeader` per frame from the functional groups.

Enhanced CT/MR/PET objects keep per-frame geometry in ``PerFrameFunctionalGroupsSequence`` and the
values common to all frames in ``SharedFunctionalGroupsSequence``. A value is looked up in the frame's
own group first, then in the shared group.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from monai_ext.io.dicom.headers.header import SliceHeader, first_float, float_tuple, header_from_dataset

__all__ = ["expand_frames", "is_multiframe"]


def is_multiframe(ds: Dataset) -> bool:
    """True when the dataset holds more than one frame or uses functional groups."""
    frames = ds.get("NumberOfFrames")
    try:
        many = int(frames or 1) > 1
    except (TypeError, ValueError):
        many = False
    return many or "PerFrameFunctionalGroupsSequence" in ds


def _group_item(groups: list[Dataset], sequence: str) -> Dataset | None:
    """First item of ``sequence`` in the first group that has it."""
    for group in groups:
        seq = group.get(sequence) if group is not None else None
        if seq:
            return seq[0]
    return None


def _attr(groups: list[Dataset], sequence: str, keyword: str) -> Any:
    item = _group_item(groups, sequence)
    return item.get(keyword) if item is not None else None


def _frame_groups(ds: Dataset, index: int) -> list[Dataset]:
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    shared = ds.get("SharedFunctionalGroupsSequence")
    groups: list[Dataset] = []
    if per_frame and index < len(per_frame):
        groups.append(per_frame[index])
    if shared:
        groups.append(shared[0])
    return groups


def _frame_header(base: SliceHeader, ds: Dataset, index: int, frame_bytes: int | None) -> SliceHeader:
    groups = _frame_groups(ds, index)
    position = float_tuple(_attr(groups, "PlanePositionSequence", "ImagePositionPatient"))
    orientation = float_tuple(_attr(groups, "PlaneOrientationSequence", "ImageOrientationPatient"))
    spacing = float_tuple(_attr(groups, "PixelMeasuresSequence", "PixelSpacing"))
    thickness = first_float(_attr(groups, "PixelMeasuresSequence", "SliceThickness"))
    slope = first_float(_attr(groups, "PixelValueTransformationSequence", "RescaleSlope"))
    intercept = first_float(_attr(groups, "PixelValueTransformationSequence", "RescaleIntercept"))
    temporal = _attr(groups, "FrameContentSequence", "TemporalPositionIndex")
    stack_id = _attr(groups, "FrameContentSequence", "StackID")
    echo_time = first_float(_attr(groups, "MREchoSequence", "EffectiveEchoTime"))
    trigger = first_float(_attr(groups, "CardiacSynchronizationSequence", "NominalCardiacTriggerDelayTime"))
    b_value, gradient = _frame_diffusion(groups, base)
    frame_type = _attr(groups, "MRImageFrameTypeSequence", "FrameType") or _attr(
        groups, "CTImageFrameTypeSequence", "FrameType"
    )
    component = _attr(groups, "MRImageFrameTypeSequence", "ComplexImageComponent")
    acquired = _attr(groups, "FrameContentSequence", "FrameAcquisitionDateTime")
    offset = None
    if base.pixel_offset is not None and frame_bytes is not None:
        offset = base.pixel_offset + index * frame_bytes
    return dataclasses.replace(
        base,
        frame=index,
        position=position if position and len(position) == 3 else base.position,
        orientation=orientation if orientation and len(orientation) == 6 else base.orientation,
        pixel_spacing=spacing if spacing and len(spacing) == 2 else base.pixel_spacing,
        slice_thickness=thickness if thickness is not None else base.slice_thickness,
        rescale_slope=slope if slope is not None else base.rescale_slope,
        rescale_intercept=intercept if intercept is not None else base.rescale_intercept,
        temporal_position=int(temporal) if temporal is not None else base.temporal_position,
        stack_id=str(stack_id) if stack_id is not None else None,
        echo_time=echo_time if echo_time is not None else base.echo_time,
        trigger_time=trigger if trigger is not None else base.trigger_time,
        pixel_offset=offset,
        pixel_length=frame_bytes if offset is not None else None,
        b_value=b_value,
        gradient=gradient,
        image_type=tuple(str(v).upper() for v in frame_type) if frame_type else base.image_type,
        complex_part=str(component)[:1].upper() if component else base.complex_part,
        acquisition_time=str(acquired) if acquired else base.acquisition_time,
    )


def _frame_diffusion(
    groups: list[Dataset], base: SliceHeader
) -> tuple[float | None, tuple[float, float, float] | None]:
    """b-value and direction (patient axes) from the frame's ``MRDiffusionSequence`` (Siemens XA, Philips)."""
    item = _group_item(groups, "MRDiffusionSequence")
    if item is None:
        return base.b_value, base.gradient
    b_value = first_float(item.get("DiffusionBValue"))
    direction_items = item.get("DiffusionGradientDirectionSequence")
    direction = float_tuple(direction_items[0].get("DiffusionGradientOrientation")) if direction_items else None
    gradient = None
    if direction is not None and len(direction) == 3:
        norm = float(np.linalg.norm(direction))
        gradient = tuple(float(v) / norm for v in direction) if norm > 1e-6 else None
    return (b_value if b_value is not None else base.b_value), gradient or base.gradient  # type: ignore[return-value]


def _grid_offsets(ds: Dataset, base: SliceHeader, n_frames: int) -> list[tuple[float, float, float] | None]:
    """Frame positions of a classic multi-frame with ``GridFrameOffsetVector`` (e.g. RT dose)."""
    offsets = float_tuple(ds.get("GridFrameOffsetVector"))
    if not offsets or len(offsets) != n_frames or base.position is None or base.orientation is None:
        return [None] * n_frames
    row, col = np.array(base.orientation[:3]), np.array(base.orientation[3:])
    normal = np.cross(row, col)
    origin = np.array(base.position)
    return [tuple(float(v) for v in origin + off * normal) for off in offsets]  # type: ignore[misc]


def expand_frames(ds: Dataset, path: Path, transfer_syntax: str) -> list[SliceHeader]:
    """One header per frame of a multi-frame dataset, in frame order.

    Args:
        ds: the dataset, parsed with pixel data deferred.
        path: the file it came from.
        transfer_syntax: its transfer syntax UID.

    Returns:
        ``NumberOfFrames`` headers with ``frame`` set to 0, 1, ...
    """
    base = header_from_dataset(ds, path, transfer_syntax)
    n_frames = base.number_of_frames
    frame_bytes = None
    if base.pixel_offset is not None and base.pixel_length is not None and n_frames > 0:
        frame_bytes = base.pixel_length // n_frames
    if "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds:
        return [_frame_header(base, ds, i, frame_bytes) for i in range(n_frames)]
    positions = _grid_offsets(ds, base, n_frames)
    headers = []
    for i, pos in enumerate(positions):
        offset = base.pixel_offset + i * frame_bytes if base.pixel_offset is not None and frame_bytes else None
        headers.append(
            dataclasses.replace(
                base,
                frame=i,
                position=pos,
                pixel_offset=offset,
                pixel_length=frame_bytes if offset is not None else None,
            )
        )
    return headers
