"""Pick one structure out of a label map (by value or by name) as a binary mask on the same grid.

A user's segmentation of an abdominal CT (Slicer's Segment Editor, a TotalSegmentator-style model with
``adrenal_gland_left``/``adrenal_gland_right``, a DICOM SEG) holds several labels; a shape bundle wants the mask of
one of them. Names resolve through ``label_names`` (``{"adrenal_gland_left": 9}``) or, when that is not given,
through the MetaTensor's ``meta["label_names"]``, which the label-map readers of :mod:`monai_ext.io` fill in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.data import MetaTensor
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends

__all__ = ["LabelSelectionError", "SelectLabel", "SelectLabeld", "label_values", "resolve_label"]

LABEL_NAMES_KEY = "label_names"


class LabelSelectionError(ValueError):
    """The requested label is not in the label map, its name is unknown, or the choice is ambiguous.

    Attributes:
        present: the non-zero label values the map holds.
    """

    def __init__(self, problem: str, present: list[int]) -> None:
        self.present = present
        super().__init__(problem)


def label_values(img: NdarrayOrTensor) -> list[int]:
    """Sorted non-zero values of an integer-valued label map (empty when it is not integer-valued).

    Example:
        >>> label_values(torch.tensor([[0.0, 2.0], [9.0, 2.0]]))
        [2, 9]
    """
    values = torch.unique(torch.as_tensor(img).as_subclass(torch.Tensor))
    if not torch.equal(values, values.round()):
        return []
    return [int(v) for v in values.tolist() if v != 0]


def _listing(values: list[int], limit: int = 20) -> str:
    """``values`` as a list, cut after ``limit`` entries so that an error message stays one readable line."""
    if len(values) <= limit:
        return str(values)
    return "[" + ", ".join(str(v) for v in values[:limit]) + f", ... ({len(values) - limit} more)]"


def resolve_label(label: int | str, names: Mapping[str, int] | None) -> int:
    """The label value that ``label`` (a value, a digit string or a name) stands for.

    Names match exactly first, then ignoring case.

    Raises:
        LabelSelectionError: an unknown name.

    Example:
        >>> resolve_label("Adrenal_Gland_Left", {"adrenal_gland_left": 9}), resolve_label("8", None)
        (9, 8)
    """
    if isinstance(label, int):
        return label
    text = str(label).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    table = dict(names or {})
    if text in table:
        return int(table[text])
    folded = {k.casefold(): int(v) for k, v in table.items()}
    if text.casefold() in folded:
        return folded[text.casefold()]
    known = ", ".join(f"{k}={v}" for k, v in table.items()) or "none: pass label_names or a label value"
    raise LabelSelectionError(f"no label named {text!r} (known names: {known})", [])


class SelectLabel(Transform):
    """A channel-first label map ``(1, I, J, K)`` -> the binary float32 mask ``(1, I, J, K)`` of one label.

    With ``label=None`` the input must hold one structure: a binary mask of any scale (0/1, 0/100, 0/255) becomes
    0/1; a soft mask (non-integer values, e.g. a generated shape) is scaled to [0, 1] by its maximum; a label map
    with several labels is refused (choose one). The geometry (a MetaTensor's affine and meta) is kept.

    Args:
        label: the label's value (``9``) or name (``"adrenal_gland_left"``), or ``None`` (see above).
        label_names: name -> value table; default: the input's ``meta["label_names"]``.

    Raises:
        LabelSelectionError: the label is absent (the message lists the labels present), its name is unknown,
            or ``label=None`` on a map with several labels.

    Example:
        >>> lm = torch.zeros(1, 4, 4, 4); lm[0, :2] = 8; lm[0, 2:] = 9
        >>> mask = SelectLabel(label="left", label_names={"right": 8, "left": 9})(lm)
        >>> int(mask.sum()), mask.dtype
        (32, torch.float32)
    """

    backend = [TransformBackends.TORCH]  # noqa: RUF012 - MONAI declares it as a plain list attribute

    def __init__(self, *, label: int | str | None = None, label_names: Mapping[str, int] | None = None) -> None:
        self.label = label
        self.label_names = dict(label_names) if label_names is not None else None

    def __call__(self, img: NdarrayOrTensor) -> torch.Tensor:
        """Return the mask (a MetaTensor when ``img`` is one)."""
        image = img if isinstance(img, torch.Tensor) else torch.as_tensor(img)
        if image.ndim != 4 or image.shape[0] != 1:
            raise LabelSelectionError(f"expected a (1, I, J, K) label map, got shape {tuple(image.shape)}", [])
        present = label_values(image)
        if self.label is None:
            return self._single(image, present)
        names = self.label_names if self.label_names is not None else _meta_names(image)
        value = resolve_label(self.label, names)
        if not present and not torch.equal(image, image.round()):
            raise LabelSelectionError(f"label {self.label!r} asked for, but the volume is not a label map", [])
        if value not in present:
            raise LabelSelectionError(
                f"label {self.label!r} (value {value}) is not in the label map; "
                f"it holds {_listing(present) if present else 'no labels'}",
                present,
            )
        return (image == value).to(torch.float32)

    def _single(self, image: torch.Tensor, present: list[int]) -> torch.Tensor:
        if present and present[0] < 0:
            raise LabelSelectionError(
                f"not a label map: it holds negative values (down to {present[0]}), as an intensity image "
                "(CT/MR) does; give a mask or label map",
                present,
            )
        if len(present) > 1:
            raise LabelSelectionError(
                f"the label map holds {len(present)} labels {_listing(present)}: choose one (label value or name)",
                present,
            )
        if present:
            return (image != 0).to(torch.float32)
        peak = float(image.max()) if image.numel() else 0.0
        if peak <= 0:
            raise LabelSelectionError("the volume holds no foreground (all voxels are <= 0)", [])
        return (image.clamp(min=0) / peak).to(torch.float32)


def _meta_names(image: torch.Tensor) -> dict[str, int] | None:
    names = image.meta.get(LABEL_NAMES_KEY) if isinstance(image, MetaTensor) else None
    return {str(k): int(v) for k, v in names.items()} if isinstance(names, Mapping) else None


class SelectLabeld(MapTransform):
    """Dictionary wrapper of :class:`SelectLabel`."""

    backend = SelectLabel.backend

    def __init__(
        self,
        *,
        keys: KeysCollection,
        label: int | str | None = None,
        label_names: Mapping[str, int] | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = SelectLabel(label=label, label_names=label_names)

    def __call__(self, data: Mapping[Any, Any]) -> dict[Any, Any]:
        """Return a shallow copy of ``data`` with each key replaced by its selected mask."""
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.transform(d[key])
        return d
