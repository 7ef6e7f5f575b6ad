"""Group the images of one stack geometry into volumes when several images share each slice position.

The rule (as dcm2niix applies it): when every position holds the same number of images, the images are grouped
into volumes by the header fields that vary between volumes - diffusion b-value and direction, echo, image type
and complex part, temporal position, trigger time, acquisition number and time. A field counts only if every
position holds the same values of it (a per-slice TriggerTime or AcquisitionTime does not), and only if it
separates images the fields before it did not. What no field separates is ordered by InstanceNumber within each
position. What even that leaves ambiguous is refused, naming the fields tried.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from monai_ext.io.dicom.headers.header import SliceHeader
from monai_ext.io.dicom.planning.geometry import DUPLICATE_TOL, slice_normal
from monai_ext.io.errors import DuplicateSliceError

__all__ = ["VOLUME_FIELDS", "VolumeGroup", "derived_trace_volumes", "group_volumes"]

_B_DECIMALS, _DIR_DECIMALS = 3, 4


def _diffusion(h: SliceHeader) -> Any:
    if h.b_value is None and h.gradient is None:
        return None
    direction = None if h.gradient is None else tuple(round(v, _DIR_DECIMALS) for v in h.gradient)
    return (None if h.b_value is None else round(h.b_value, _B_DECIMALS), direction)


# Fields that tell volumes apart, in the order they are tried.
VOLUME_FIELDS: tuple[tuple[str, Callable[[SliceHeader], Any]], ...] = (
    ("diffusion", _diffusion),
    ("echo_number", lambda h: h.echo_number),
    ("echo_time", lambda h: h.echo_time),
    ("image_type", lambda h: h.image_type or None),
    ("complex_part", lambda h: h.complex_part),
    ("temporal_position", lambda h: h.temporal_position),
    ("trigger_time", lambda h: h.trigger_time),
    ("stack_id", lambda h: h.stack_id),
    ("acquisition_number", lambda h: h.acquisition_number),
    ("acquisition_time", lambda h: h.acquisition_time),
)


@dataclass(frozen=True)
class VolumeGroup:
    """One volume of a 4D series.

    Attributes:
        headers: its images, one per slice position (unsorted).
        axis: what the volume index means: the fields that separated the volumes, joined by ``+``
            (``instance_order`` when InstanceNumber order within each position decided).
        value: this volume's value of those fields (a tuple when several; the rank for ``instance_order``).
    """

    headers: list[SliceHeader]
    axis: str
    value: Any


def _sortable(value: Any) -> tuple:
    """A key that orders ``None``, numbers, strings and tuples of them without comparing across types."""
    if value is None:
        return (0,)
    if isinstance(value, int | float):
        return (1, float(value))
    if isinstance(value, tuple):
        return (2, tuple(_sortable(v) for v in value))
    return (3, str(value))


def _positions(headers: list[SliceHeader]) -> list[list[SliceHeader]] | None:
    """Images bucketed by slice position along the normal (``None`` without geometry)."""
    if any(h.position is None or h.orientation is None for h in headers):
        return None
    normal = slice_normal(np.asarray(headers[0].orientation, float))
    distances = np.array([h.position for h in headers], float) @ normal
    order = np.argsort(distances, kind="stable")
    buckets: list[list[SliceHeader]] = []
    last = None
    for i in order:
        if last is None or distances[i] - last > DUPLICATE_TOL:
            buckets.append([])
        buckets[-1].append(headers[i])
        last = distances[i]
    return buckets


def _volume_level(buckets: list[list[SliceHeader]], getter: Callable[[SliceHeader], Any]) -> bool:
    """Every position holds the same values of the field, and it takes more than one value."""
    first = Counter(getter(h) for h in buckets[0])
    if len(first) < 2:
        return False
    return all(Counter(getter(h) for h in bucket) == first for bucket in buckets[1:])


def _instance_rank(bucket: list[SliceHeader]) -> list[SliceHeader] | None:
    numbers = [h.instance_number for h in bucket]
    if None in numbers or len(set(numbers)) != len(numbers):
        return None
    return sorted(bucket, key=lambda h: h.instance_number)  # type: ignore[arg-type, return-value]


def _refuse(headers: list[SliceHeader], tried: list[str], why: str) -> DuplicateSliceError:
    return DuplicateSliceError(
        f"images share slice positions and cannot be grouped into volumes: {why}; fields tried: "
        f"{', '.join(tried)}, then InstanceNumber order within each position",
        [h.path for h in headers[:2]],
    )


def _value(key: tuple, rank: int, by_rank: bool) -> Any:
    """A volume's value of the separating fields: one field's value, a tuple of several, plus the rank."""
    if not by_rank:
        return key[0] if len(key) == 1 else key
    return (*key, rank) if key else rank - 1


def group_volumes(headers: list[SliceHeader]) -> list[VolumeGroup] | None:
    """Split images that share slice positions into volumes.

    Args:
        headers: the images of one geometry group (same orientation and frame size).

    Returns:
        The volumes in acquisition order (smallest InstanceNumber, then earliest AcquisitionTime, then the
        separating value first), or ``None`` when the positions hold different numbers of images (the caller
        then tries the older one-field split).

    Raises:
        DuplicateSliceError: every position holds the same number of images but nothing tells them apart.
    """
    buckets = _positions(headers)
    if buckets is None or len({len(b) for b in buckets}) != 1 or len(buckets[0]) < 2:
        return None
    per_position = len(buckets[0])
    names = [name for name, _ in VOLUME_FIELDS]
    used: list[tuple[str, Callable[[SliceHeader], Any]]] = []
    classes = 1
    for name, getter in VOLUME_FIELDS:
        if not _volume_level(buckets, getter):
            continue
        candidate = [*used, (name, getter)]
        count = len({tuple(g(h) for _, g in candidate) for h in buckets[0]})
        if count > classes:
            used, classes = candidate, count
        if classes == per_position:
            break

    def key(h: SliceHeader) -> tuple:
        return tuple(g(h) for _, g in used)

    volumes: dict[tuple, list[SliceHeader]] = {}
    for bucket in buckets:
        by_key: dict[tuple, list[SliceHeader]] = {}
        for h in bucket:
            by_key.setdefault(key(h), []).append(h)
        for k, group in by_key.items():
            if len(group) == 1:
                volumes.setdefault((k, 0), []).append(group[0])
                continue
            ranked = _instance_rank(group)
            if ranked is None:
                raise _refuse(headers, names, f"{len(group)} images at one position have equal or no InstanceNumber")
            for rank, h in enumerate(ranked):
                volumes.setdefault((k, rank + 1), []).append(h)
    if any(len(v) != len(buckets) for v in volumes.values()):
        raise _refuse(headers, names, "the groups found do not each hold one image per position")
    by_rank = classes < per_position
    axis = "+".join([name for name, _ in used] + (["instance_order"] if by_rank else [])) or "instance_order"
    groups = [VolumeGroup(headers=m, axis=axis, value=_value(k, rank, by_rank)) for (k, rank), m in volumes.items()]
    groups.sort(key=_acquisition_order)
    return groups


def _acquisition_order(group: VolumeGroup) -> tuple:
    first = min((h.instance_number for h in group.headers if h.instance_number is not None), default=0)
    earliest = min((h.acquisition_time for h in group.headers if h.acquisition_time), default="")
    return (first, earliest, _sortable(group.value))


_DERIVED_MARKS = frozenset({"DERIVED", "ADC", "TRACEW", "ISOTROPIC", "TRACE", "FA"})
_B0 = 5.0


def derived_trace_volumes(groups: list[VolumeGroup]) -> list[int]:
    """Indices of derived trace/ADC volumes inside a diffusion series (dcm2niix leaves these out).

    A volume counts when it has b > 0 but no gradient direction while other volumes have directions, and it is
    marked derived (``DERIVED``/``ADC``/``TRACEW``/... in ImageType) or comes from a Philips scanner, whose
    exports append the isotropic image to the acquired ones.
    """
    if not groups or groups[0].axis.split("+")[0] != "diffusion":
        return []
    has_direction = [any(h.gradient is not None for h in g.headers) for g in groups]
    if not any(has_direction):
        return []
    out = []
    for index, group in enumerate(groups):
        h = group.headers[0]
        derived = bool(_DERIVED_MARKS.intersection(h.image_type)) or h.manufacturer.upper().startswith("PHILIPS")
        if not has_direction[index] and (h.b_value or 0.0) > _B0 and derived:
            out.append(index)
    return out
