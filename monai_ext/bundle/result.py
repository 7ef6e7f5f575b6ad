"""The result of one bundle run: probabilities, scalars and maps on the input's grid."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from monai.data import MetaTensor

if TYPE_CHECKING:
    from monai_ext.bundle.segmentation.maps import Segmentation

__all__ = ["RunResult"]


@dataclass
class RunResult:
    """What one run produced.

    Attributes:
        source: the input's name (path, or ``"in-memory volume"``).
        image: the input as loaded, ``(1, I, J, K)`` with its RAS affine.
        class_names: the classifier's class names (empty for other bundles).
        probabilities: one per class (empty for other bundles).
        scalars: scalar outputs by name (e.g. ``anomaly_score``).
        maps: spatial outputs by name, each ``(C, I, J, K)`` on the input's grid with the input's affine.
        segmentations: segmentation outputs by name (label map or region masks, probabilities), on that grid.
        timings: seconds per stage.
        device: where the network ran.
        warnings: notes for the user.
        background: the intensity image the input segments (e.g. the CT under a gland mask), ``(1, I, J, K)``
            on the input's grid, or ``None``; the montages show the heatmaps over it with the input outlined.
        structure: the name of the structure the input is a mask of (a label of a label map), or ``None``.
        heatmap_method: the method that made the map ``heatmap`` (``None`` without one). It differs from the
            method asked for when an empty Grad-CAM map was replaced (the config's ``explain_fallback``).
    """

    source: str
    image: MetaTensor
    class_names: list[str] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)
    scalars: dict[str, float] = field(default_factory=dict)
    maps: dict[str, MetaTensor] = field(default_factory=dict)
    segmentations: dict[str, Segmentation] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"
    warnings: list[str] = field(default_factory=list)
    background: MetaTensor | None = None
    structure: str | None = None
    heatmap_method: str | None = None

    @property
    def predicted_index(self) -> int | None:
        """Index of the most probable class, ``None`` for a bundle without classes."""
        if not self.probabilities:
            return None
        return max(range(len(self.probabilities)), key=self.probabilities.__getitem__)

    @property
    def predicted(self) -> str | None:
        """The most probable class name, ``None`` for a bundle without classes."""
        best = self.predicted_index
        if best is None:
            return None
        return self.class_names[best] if best < len(self.class_names) else str(best)
