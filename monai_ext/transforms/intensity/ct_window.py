"""CT windowing: map Hounsfield units (HU) through a width/level window to ``[0, 1]``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, cast

import numpy as np
import torch
from monai.config import DtypeLike, KeysCollection, NdarrayOrTensor
from monai.transforms import MapTransform, ScaleIntensityRange, Transform

from monai_ext.transforms.intensity._checks import require_no_nan

__all__ = ["CT_WINDOW_PRESETS", "CTWindow", "CTWindowd", "Window"]


@dataclass(frozen=True)
class Window:
    """A CT display window.

    Attributes:
        width: window width in HU, strictly positive.
        level: window level (centre) in HU.
    """

    width: float
    level: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.width) and math.isfinite(self.level)):
            raise ValueError(f"Window width and level must be finite, got width={self.width}, level={self.level}.")
        if self.width <= 0:
            raise ValueError(f"Window width must be > 0 HU, got {self.width}.")

    @property
    def lower(self) -> float:
        """HU value mapped to 0: ``level - width / 2``."""
        return self.level - self.width / 2

    @property
    def upper(self) -> float:
        """HU value mapped to 1: ``level + width / 2``."""
        return self.level + self.width / 2


#: Standard radiology presets (width, level) in HU; read-only.
CT_WINDOW_PRESETS: Mapping[str, Window] = MappingProxyType(
    {
        "lung": Window(width=1500.0, level=-600.0),
        "mediastinum": Window(width=350.0, level=50.0),
        "abdomen": Window(width=400.0, level=40.0),
        "brain": Window(width=80.0, level=40.0),
        "bone": Window(width=1800.0, level=400.0),
    }
)


def resolve_window(*, preset: str | None, width: float | None, level: float | None) -> Window:
    """Return the window named by ``preset`` or given by ``width``/``level`` (exactly one of the two).

    Raises:
        ValueError: both or neither of ``preset`` and ``width``/``level`` given, only one of
            ``width``/``level`` given, or ``preset`` unknown.
    """
    custom = width is not None or level is not None
    if preset is not None and custom:
        raise ValueError("Give either `preset` or `width` and `level`, not both.")
    if preset is not None:
        if preset not in CT_WINDOW_PRESETS:
            raise ValueError(f"Unknown CT window preset {preset!r}; choose one of {sorted(CT_WINDOW_PRESETS)}.")
        return CT_WINDOW_PRESETS[preset]
    if width is None or level is None:
        raise ValueError("Give a `preset`, or both `width` and `level` (in HU).")
    return Window(width=width, level=level)


class CTWindow(Transform):
    """Window a CT image given in HU and rescale it linearly to ``[0, 1]`` (values outside are clipped).

    ``level - width / 2`` maps to 0, ``level + width / 2`` maps to 1, and the map is monotone
    non-decreasing. The scaling itself is MONAI's :class:`~monai.transforms.ScaleIntensityRange`.

    Presets (width / level, in HU):

    ============  =====  =====
    preset        width  level
    ============  =====  =====
    lung          1500   -600
    mediastinum   350    50
    abdomen       400    40
    brain         80     40
    bone          1800   400
    ============  =====  =====

    Args:
        preset: name of a preset above; mutually exclusive with ``width``/``level``.
        width: custom window width in HU (> 0).
        level: custom window level in HU.
        dtype: output dtype.

    Raises:
        ValueError: invalid window arguments (see :func:`resolve_window`); at call time, NaN in the input.

    Example:
        >>> import torch
        >>> hu = torch.tensor([[[[-1350.0, -600.0, 150.0, 3000.0]]]])  # (C, H, W, D) = (1, 1, 1, 4)
        >>> CTWindow(preset="lung")(hu).flatten().tolist()
        [0.0, 0.5, 1.0, 1.0]
    """

    backend = ScaleIntensityRange.backend

    def __init__(
        self,
        *,
        preset: str | None = None,
        width: float | None = None,
        level: float | None = None,
        dtype: DtypeLike = np.float32,
    ) -> None:
        self.window = resolve_window(preset=preset, width=width, level=level)
        self._scale = ScaleIntensityRange(
            a_min=self.window.lower, a_max=self.window.upper, b_min=0.0, b_max=1.0, clip=True, dtype=dtype
        )

    def __call__(self, img: NdarrayOrTensor) -> torch.Tensor:
        """Window ``img``.

        Args:
            img: channel-first image in HU, shape ``(C, H, W, D)`` (any spatial rank works);
                numpy array, tensor or MetaTensor.

        Returns:
            Tensor of the same shape, values in ``[0, 1]``; a MetaTensor (metadata kept) when meta
            tracking is on.

        Raises:
            ValueError: ``img`` contains NaN.
        """
        require_no_nan(img, transform=type(self).__name__)
        return cast(torch.Tensor, self._scale(img))  # ScaleIntensityRange converts its input to a tensor


class CTWindowd(MapTransform):
    """Dictionary wrapper of :class:`CTWindow`: windows each of ``keys`` identically.

    Args:
        keys: keys of the images (HU, channel-first ``(C, H, W, D)``) to window.
        preset: see :class:`CTWindow`.
        width: see :class:`CTWindow` (HU).
        level: see :class:`CTWindow` (HU).
        dtype: output dtype.
        allow_missing_keys: do not raise if a key is absent.

    Example:
        >>> import torch
        >>> out = CTWindowd(keys="image", width=400.0, level=40.0)({"image": torch.full((1, 2, 2, 2), 40.0)})
        >>> float(out["image"].max())
        0.5
    """

    backend = CTWindow.backend

    def __init__(
        self,
        *,
        keys: KeysCollection,
        preset: str | None = None,
        width: float | None = None,
        level: float | None = None,
        dtype: DtypeLike = np.float32,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.windower = CTWindow(preset=preset, width=width, level=level, dtype=dtype)

    def __call__(self, data: Mapping[Any, Any]) -> dict[Any, Any]:
        """Return a shallow copy of ``data`` with every present key windowed."""
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.windower(d[key])
        return d
