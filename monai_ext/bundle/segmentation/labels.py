"""What a segmentation output means: its kind (label map or overlapping regions), label names and colours.

Read from the bundle metadata ``network_data_format.outputs.<name>``: ``labels`` (``{"1": "anterior"}``) or
zoo-style ``channel_def`` (``{"0": "background", "1": "spleen"}``), and ``label_colors`` (``{"1": [r, g, b]}``);
without colours a fixed palette is used. An output is a segmentation when its ``type`` is ``"segmentation"``
or, as in zoo bundles, its ``format`` is ``"segmentation"`` or ``"labels"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from monai_ext.bundle.segmentation.palette import palette_color

__all__ = ["KINDS", "SegmentationLabel", "SegmentationSpec", "is_segmentation", "segmentation_spec", "slug"]

KINDS = ("labels", "multilabel")
_BACKGROUND = frozenset({"background", "bg", "none", "unlabeled", "unlabelled", "label 0"})


@dataclass(frozen=True)
class SegmentationLabel:
    """One segment.

    Attributes:
        value: the label value in the map (``"labels"``) or the channel index (``"multilabel"``).
        name: its name.
        color: ``(r, g, b)`` 0-255.
    """

    value: int
    name: str
    color: tuple[int, int, int]


@dataclass(frozen=True)
class SegmentationSpec:
    """A segmentation output.

    Attributes:
        name: the output name (e.g. ``"pred"``).
        kind: ``"labels"`` (one label per voxel, softmax/argmax) or ``"multilabel"`` (overlapping 0/1 regions,
            one channel each, sigmoid).
        labels: the segments, background left out.
        channels: the network's output channels (``num_channels``), ``None`` when not declared.
    """

    name: str
    kind: str
    labels: tuple[SegmentationLabel, ...]
    channels: int | None

    def label(self, value: int) -> SegmentationLabel:
        """The segment of ``value``; an unnamed value gets ``"label <value>"`` and a palette colour."""
        for label in self.labels:
            if label.value == value:
                return label
        return SegmentationLabel(value=value, name=f"label {value}", color=_default_color(value, self.kind))


def is_segmentation(spec: dict[str, Any]) -> bool:
    """Whether a metadata output spec describes a segmentation."""
    return spec.get("type") == "segmentation" or spec.get("format") in ("segmentation", "labels")


def segmentation_spec(name: str, spec: dict[str, Any], *, activation: str | None = None) -> SegmentationSpec:
    """The segmentation spec of output ``name``.

    Args:
        name: the output name.
        spec: its metadata.
        activation: the activation the bundle's postprocessing applies: ``"sigmoid"`` makes the output
            ``"multilabel"`` (overlapping regions, every channel listed); otherwise ``"labels"`` (channel 0 is
            the background, unless named otherwise it is left out).

    Raises:
        ValueError: malformed ``labels``, ``channel_def`` or ``label_colors`` (the caller names the file).
    """
    kind = "multilabel" if activation == "sigmoid" or spec.get("kind") == "multilabel" else "labels"
    names = _names(spec.get("labels") or spec.get("channel_def") or {})
    colors = _colors(spec.get("label_colors") or {})
    channels = spec.get("num_channels")
    if not names and isinstance(channels, int):
        names = {i: f"label {i}" for i in range(channels)}
    labels = tuple(
        SegmentationLabel(value=value, name=text, color=colors.get(value, _default_color(value, kind)))
        for value, text in sorted(names.items())
        if kind == "multilabel" or not (value == 0 and text.strip().lower() in _BACKGROUND)
    )
    return SegmentationSpec(
        name=name, kind=kind, labels=labels, channels=channels if isinstance(channels, int) else None
    )


def _default_color(value: int, kind: str) -> tuple[int, int, int]:
    return palette_color(value + 1 if kind == "multilabel" else value)  # channel 0 is a region, not background


def slug(text: str) -> str:
    """A file-name-safe form of a label name: ``"Whole tumor"`` -> ``"whole_tumor"``."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "label"


def _names(raw: Any) -> dict[int, str]:
    if not isinstance(raw, dict):
        raise ValueError(f"labels/channel_def must map values to names, got {type(raw).__name__}")
    names: dict[int, str] = {}
    for key, value in raw.items():
        if not str(key).lstrip("-").isdigit() or int(key) < 0:
            raise ValueError(f"label value {key!r} is not a non-negative integer")
        names[int(key)] = str(value)
    return names


def _colors(raw: Any) -> dict[int, tuple[int, int, int]]:
    if not isinstance(raw, dict):
        raise ValueError(f"label_colors must map values to [r, g, b], got {type(raw).__name__}")
    colors: dict[int, tuple[int, int, int]] = {}
    for key, value in raw.items():
        ok = isinstance(value, list | tuple) and len(value) == 3
        if not str(key).isdigit() or not ok or not all(isinstance(c, int) and 0 <= c <= 255 for c in value):
            raise ValueError(f"label_colors[{key!r}] must be [r, g, b] with integers 0-255, got {value!r}")
        colors[int(key)] = (int(value[0]), int(value[1]), int(value[2]))
    return colors
