"""Split one series into stacks: slices that share an orientation and a frame size, one per echo/phase.

A series may hold several stacks: a localizer in another orientation, several echoes or temporal
positions at the same slice positions (a 4D series). Slices are never interleaved across stacks.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from monai_ext.io.dicom.headers.header import SliceHeader
from monai_ext.io.dicom.planning.geometry import DUPLICATE_TOL, slice_normal
from monai_ext.io.dicom.planning.volumes import derived_trace_volumes, group_volumes
from monai_ext.io.errors import DuplicateSliceError, MissingGeometryError

__all__ = ["DIMENSION_FIELDS", "Stack", "is_screenshot_like", "split_stacks"]

ORIENTATION_TOL = 1e-3  # direction cosines closer than this belong to one stack

# Header fields that separate images at the same position, tried in this order.
DIMENSION_FIELDS: tuple[str, ...] = (
    "echo_number",
    "echo_time",
    "temporal_position",
    "trigger_time",
    "stack_id",
    "acquisition_number",
)


@dataclass
class Stack:
    """Images of one series that form one 3D volume.

    Attributes:
        headers: the images, in scan order (the loader sorts them along the normal).
        group: index of the geometry group (orientation and frame size) within the series.
        dimension: the header field that separated this stack from its siblings, and its value; ``None``
            when the group is a single stack.
        problems: notes about what was tolerated (for example copies of the same image).
    """

    headers: list[SliceHeader]
    group: int
    dimension: tuple[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """Short description, for listings and error messages."""
        h = self.headers[0]
        text = f"{len(self.headers)} x {h.columns}x{h.rows}"
        if h.orientation is not None:
            text += f" {orientation_name(h.orientation)}"
        if self.dimension is not None:
            text += f" {self.dimension[0]}={self.dimension[1]}"
        return text


def orientation_name(orientation: Sequence[float]) -> str:
    """``axial``, ``coronal``, ``sagittal`` (dominant normal axis), prefixed ``oblique`` when tilted > 1 deg."""
    normal = slice_normal(np.asarray(orientation, float))
    axis = int(np.argmax(np.abs(normal)))
    name = ("sagittal", "coronal", "axial")[axis]
    return name if abs(normal[axis]) > np.cos(np.radians(1.0)) else f"oblique {name}"


_SCREENSHOT_TYPES = frozenset({"SECONDARY", "SCREEN SAVE", "SCREENSHOT", "SUMMARY"})


def is_screenshot_like(h: SliceHeader) -> bool:
    """A picture of a screen (exam summary, saved screen, colour capture), not a slice of a volume."""
    return (
        h.samples_per_pixel != 1
        or h.position is None
        or h.orientation is None
        or bool(_SCREENSHOT_TYPES.intersection(h.image_type))
    )


def _marked_screenshot(h: SliceHeader) -> bool:
    """Marked as a screen capture by its ImageType or colour, not merely lacking a position."""
    return h.samples_per_pixel != 1 or bool(_SCREENSHOT_TYPES.intersection(h.image_type))


def _geometry_key_matches(a: SliceHeader, b: SliceHeader) -> bool:
    if (a.rows, a.columns, a.samples_per_pixel) != (b.rows, b.columns, b.samples_per_pixel):
        return False
    if (a.orientation is None) != (b.orientation is None):
        return False
    if a.orientation is None or b.orientation is None:
        return True
    return bool(np.max(np.abs(np.subtract(a.orientation, b.orientation))) <= ORIENTATION_TOL)


def _group_by_geometry(headers: list[SliceHeader]) -> list[list[SliceHeader]]:
    groups: list[list[SliceHeader]] = []
    for h in headers:
        for group in groups:
            if _geometry_key_matches(group[0], h):
                group.append(h)
                break
        else:
            groups.append([h])
    return groups


def _drop_copies(headers: list[SliceHeader]) -> tuple[list[SliceHeader], list[str]]:
    """Remove repeated copies of the same image (same SOP instance and frame), keeping the first."""
    seen: dict[tuple[str, int | None, int | None], SliceHeader] = {}
    kept, notes = [], []
    for h in headers:
        key = h.image_key
        if h.sop_instance_uid and key in seen:
            notes.append(f"ignored {h.path}: a copy of {seen[key].path} (same SOPInstanceUID)")
            continue
        seen[key] = h
        kept.append(h)
    return kept, notes


def _projected(headers: list[SliceHeader]) -> np.ndarray | None:
    if any(h.position is None or h.orientation is None for h in headers):
        return None
    normal = slice_normal(np.asarray(headers[0].orientation, float))
    return np.array([h.position for h in headers], float) @ normal


def _has_duplicate_positions(headers: list[SliceHeader]) -> bool:
    distances = _projected(headers)
    if distances is None or len(distances) < 2:
        return False
    return bool(np.any(np.diff(np.sort(distances)) <= DUPLICATE_TOL))


def _split_by(headers: list[SliceHeader], key: Callable[[SliceHeader], Any]) -> dict[Any, list[SliceHeader]]:
    parts: dict[Any, list[SliceHeader]] = {}
    for h in headers:
        parts.setdefault(key(h), []).append(h)
    return parts


def _duplicate_error(headers: list[SliceHeader]) -> DuplicateSliceError:
    distances = _projected(headers)
    assert distances is not None
    order = np.argsort(distances, kind="stable")
    for a, b in itertools.pairwise(order):
        if distances[b] - distances[a] <= DUPLICATE_TOL:
            first, second = headers[a], headers[b]
            return DuplicateSliceError(
                f"two different images at the same slice position {distances[a]:.3f} mm along the normal, "
                f"and no echo/temporal/acquisition field tells them apart",
                [first.path, second.path],
            )
    raise AssertionError("no duplicate found")  # pragma: no cover


def _split_group(headers: list[SliceHeader], group: int) -> list[Stack]:
    if not _has_duplicate_positions(headers):
        return [Stack(headers=headers, group=group)]
    volumes = group_volumes(headers)
    if volumes is not None:
        derived = derived_trace_volumes(volumes)
        note = []
        if derived:
            note = [
                f"left out {len(derived)} derived trace/ADC volume(s) (b > 0 without a gradient direction, "
                f"first file {volumes[derived[0]].headers[0].path.name}), as dcm2niix does"
            ]
            volumes = [v for i, v in enumerate(volumes) if i not in derived]
        return [
            Stack(headers=v.headers, group=group, dimension=(v.axis, v.value), problems=list(note)) for v in volumes
        ]
    for name in DIMENSION_FIELDS:
        parts = _split_by(headers, lambda h, n=name: getattr(h, n))  # type: ignore[misc]
        if len(parts) < 2 or None in parts:
            continue
        if not any(_has_duplicate_positions(p) for p in parts.values()):
            ordered = sorted(parts.items(), key=lambda kv: kv[0])
            return [Stack(headers=p, group=group, dimension=(name, value)) for value, p in ordered]
    raise _duplicate_error(headers)


def _check_orientations(headers: list[SliceHeader]) -> None:
    """Refuse direction cosines that are not unit length or not orthogonal, naming the files."""
    problems: dict[tuple[float, ...], str | None] = {}
    for h in headers:
        if h.orientation is not None and h.orientation not in problems:
            try:
                slice_normal(np.asarray(h.orientation, float))
                problems[h.orientation] = None
            except ValueError as err:
                problems[h.orientation] = str(err)
    bad = [h for h in headers if h.orientation is not None and problems[h.orientation]]
    if bad:
        first = bad[0].orientation
        assert first is not None
        raise MissingGeometryError(str(problems[first]), [h.path for h in bad])


def split_stacks(headers: list[SliceHeader]) -> list[Stack]:
    """Split the images of one series into stacks.

    Args:
        headers: every image (file or frame) of one ``SeriesInstanceUID``.

    Returns:
        Stacks ordered by geometry group, then by the separating field's value.

    Raises:
        DuplicateSliceError: different images share a position and no header field separates them.
        MissingGeometryError: a multi-slice stack has images without position or orientation, or an
            orientation is not a pair of orthonormal direction cosines.
    """
    kept, notes = _drop_copies(headers)
    _check_orientations(kept)
    stacks: list[Stack] = []
    for index, group in enumerate(_group_by_geometry(kept)):
        placeless = [h for h in group if h.position is None or h.orientation is None]
        if len(group) > 1 and placeless:
            if all(_marked_screenshot(h) for h in placeless):  # exam summaries beside a stack: set aside later
                rest = [h for h in group if h.position is not None and h.orientation is not None]
                stacks.extend(_split_group(rest, index) if rest else [])
                stacks.append(Stack(headers=placeless, group=index))
                continue
            bad = [h.path for h in placeless]
            raise MissingGeometryError(
                "images without ImagePositionPatient/ImageOrientationPatient: slice order is unknown", bad
            )
        stacks.extend(_split_group(group, index))
    for stack in stacks:
        stack.problems.extend(notes)
    return stacks
