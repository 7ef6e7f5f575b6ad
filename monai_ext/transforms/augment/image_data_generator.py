"""3D equivalent of the classic Keras ``ImageDataGenerator`` augmentation, with replayable parameters.

The Keras set-up being reproduced is::

    ImageDataGenerator(rotation_range=20, width_shift_range=0.2, height_shift_range=0.2,
                       horizontal_flip=True, vertical_flip=True, fill_mode="nearest")

Here, for channel-first volumes ``(C, H, W, D)``: a rotation of up to ±20 degrees about each
chosen spatial axis, a shift of up to ±20 % of the size along each spatial axis, a flip of each
chosen axis with probability 1/2, and out-of-volume voxels filled from the nearest border voxel
(MONAI ``padding_mode="border"``). Rotation and shift are done by MONAI's
:class:`~monai.transforms.Affine`, flips by :class:`~monai.transforms.Flip`.

:class:`RandKerasAugment` samples an :class:`AugmentParams` in ``randomize()`` from its own
``self.R`` and applies it with the deterministic :class:`KerasAugment`, so
``KerasAugment(params=t.params)(img)`` replays the last call of ``t`` bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import Affine, Flip, MapTransform, Randomizable, RandomizableTransform, Transform
from monai.utils import convert_to_tensor

from monai_ext.transforms._keys import check_label_keys

__all__ = ["AugmentParams", "KerasAugment", "KerasAugmentd", "RandKerasAugment", "RandKerasAugmentd"]

SPATIAL_DIMS = 3
_LABEL_MODE = "nearest"


@dataclass(frozen=True)
class AugmentParams:
    """One sample of augmentation parameters; the default is the identity.

    Attributes:
        rotate_deg: rotation angles in degrees about spatial axes 0, 1 and 2 (MONAI ``Affine``
            convention, intrinsic ``"XYZ"`` order), about the volume centre.
        shift_frac: shift along spatial axes 0, 1 and 2 as a fraction of that axis' size
            (0.1 on a 32-voxel axis is 3.2 voxels).
        flip: whether spatial axes 0, 1 and 2 are flipped (after rotation and shift).
    """

    rotate_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    shift_frac: tuple[float, float, float] = (0.0, 0.0, 0.0)
    flip: tuple[bool, bool, bool] = (False, False, False)

    def __post_init__(self) -> None:
        for name in ("rotate_deg", "shift_frac", "flip"):
            if len(getattr(self, name)) != SPATIAL_DIMS:
                raise ValueError(f"AugmentParams.{name} needs {SPATIAL_DIMS} values, got {getattr(self, name)}.")

    @property
    def moves_voxels(self) -> bool:
        """Whether a rotation or shift (i.e. a resampling) is needed."""
        return any(self.rotate_deg) or any(self.shift_frac)

    @property
    def flip_axes(self) -> tuple[int, ...]:
        """Indices of the flipped spatial axes."""
        return tuple(axis for axis, flipped in enumerate(self.flip) if flipped)


class KerasAugment(Transform):
    """Apply fixed :class:`AugmentParams` to a 3D volume (deterministic step of :class:`RandKerasAugment`).

    Rotation and shift are one resampling by MONAI's :class:`~monai.transforms.Affine` (skipped
    when both are zero), then the flips by :class:`~monai.transforms.Flip`. A MetaTensor's
    metadata is kept and the operations are recorded in ``applied_operations``.

    Args:
        params: the parameters to apply.
        mode: interpolation, ``"bilinear"`` for images, ``"nearest"`` for labels.
        padding_mode: fill for voxels coming from outside the volume: ``"border"`` (nearest border
            voxel, Keras ``fill_mode="nearest"``), ``"zeros"`` or ``"reflection"``.

    Example:
        >>> import torch
        >>> img = torch.arange(8.0).reshape(1, 2, 2, 2)  # (C, H, W, D)
        >>> flip_h = AugmentParams(flip=(True, False, False))
        >>> KerasAugment(params=flip_h)(img).flatten().tolist()
        [4.0, 5.0, 6.0, 7.0, 0.0, 1.0, 2.0, 3.0]
    """

    backend = Affine.backend

    def __init__(self, *, params: AugmentParams, mode: str = "bilinear", padding_mode: str = "border") -> None:
        self.params = params
        self.mode = mode
        self.padding_mode = padding_mode

    def __call__(self, img: NdarrayOrTensor) -> torch.Tensor:
        """Augment ``img``.

        Args:
            img: channel-first volume, shape ``(C, H, W, D)``; numpy array, tensor or MetaTensor.

        Returns:
            Float32 tensor (MetaTensor when meta tracking is on) of shape ``(C, H, W, D)``.

        Raises:
            ValueError: ``img`` is not 4D ``(C, H, W, D)``.
        """
        if len(img.shape) != SPATIAL_DIMS + 1:
            raise ValueError(f"{type(self).__name__}: expected a (C, H, W, D) volume, got shape {tuple(img.shape)}.")
        out: torch.Tensor = convert_to_tensor(img, track_meta=get_track_meta(), dtype=torch.float32)
        if self.params.moves_voxels:
            out = cast(torch.Tensor, self._affine(spatial_size=tuple(out.shape[1:]))(out))
        if self.params.flip_axes:
            out = Flip(spatial_axis=self.params.flip_axes)(out)
        return out

    def _affine(self, *, spatial_size: tuple[int, ...]) -> Affine:
        """The MONAI ``Affine`` performing the rotation and the shift (in voxels) for this volume size."""
        return Affine(
            rotate_params=[math.radians(angle) for angle in self.params.rotate_deg],
            translate_params=[frac * size for frac, size in zip(self.params.shift_frac, spatial_size, strict=True)],
            mode=self.mode,
            padding_mode=self.padding_mode,
            image_only=True,
        )


class KerasAugmentd(MapTransform):
    """Dictionary wrapper of :class:`KerasAugment`: the same parameters for every key.

    Args:
        keys: keys of the channel-first ``(C, H, W, D)`` images and labels.
        params: the parameters to apply.
        label_keys: subset of ``keys`` holding label maps (interpolated with ``"nearest"``).
        mode: interpolation for the non-label keys.
        padding_mode: see :class:`KerasAugment`.
        allow_missing_keys: do not raise if a key is absent.

    Raises:
        ValueError: ``label_keys`` is not a subset of ``keys``.

    Example:
        >>> import torch
        >>> tilt = AugmentParams(rotate_deg=(10.0, 0.0, 0.0))
        >>> t = KerasAugmentd(keys=("image", "label"), label_keys="label", params=tilt)
        >>> out = t({"image": torch.rand(1, 8, 8, 8), "label": torch.ones(1, 8, 8, 8)})
        >>> bool((out["label"] == 1).all())
        True
    """

    backend = KerasAugment.backend

    def __init__(
        self,
        *,
        keys: KeysCollection,
        params: AugmentParams,
        label_keys: KeysCollection = (),
        mode: str = "bilinear",
        padding_mode: str = "border",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.label_keys = check_label_keys(self.keys, label_keys)
        self.image_augment = KerasAugment(params=params, mode=mode, padding_mode=padding_mode)
        self.label_augment = KerasAugment(params=params, mode=_LABEL_MODE, padding_mode=padding_mode)

    def __call__(self, data: Mapping[Any, Any]) -> dict[Any, Any]:
        """Return a shallow copy of ``data`` with every present key augmented."""
        d = dict(data)
        for key in self.key_iterator(d):
            augment = self.label_augment if key in self.label_keys else self.image_augment
            d[key] = augment(d[key])
        return d


class RandKerasAugment(RandomizableTransform):
    """Randomly rotate, shift and flip a 3D volume, Keras ``ImageDataGenerator`` style.

    With probability ``prob`` (for the whole preset; otherwise the identity is applied),
    ``randomize()`` draws from ``self.R`` (never the global numpy/torch RNG):

    - an angle uniform in ``[-rotation_range, rotation_range]`` degrees about each of ``rotate_axes``;
    - a shift uniform in ``[-shift_range, shift_range]`` (fraction of the axis size) along each axis;
    - a flip with probability 1/2 for each of ``flip_axes``.

    The result is exposed as :attr:`params`, and applied by :class:`KerasAugment`.

    Args:
        prob: probability of augmenting at all, in ``[0, 1]``.
        rotation_range: maximum absolute rotation angle in degrees, in ``[0, 180]``.
        rotate_axes: spatial axes (0, 1, 2) to rotate about.
        shift_range: maximum absolute shift as a fraction of the size, in ``[0, 1)``; one value for
            all axes or one per spatial axis.
        flip_axes: spatial axes (0, 1, 2) that may be flipped.
        mode: interpolation, ``"bilinear"`` for images, ``"nearest"`` for labels.
        padding_mode: see :class:`KerasAugment`; ``"border"`` is Keras ``fill_mode="nearest"``.

    Raises:
        ValueError: an argument is out of its range.

    Example:
        >>> import torch
        >>> t = RandKerasAugment().set_random_state(seed=0)
        >>> img = torch.rand(1, 16, 16, 16)
        >>> out = t(img)
        >>> torch.equal(out, KerasAugment(params=t.params)(img))  # bit-identical replay
        True
    """

    backend = KerasAugment.backend

    def __init__(
        self,
        *,
        prob: float = 1.0,
        rotation_range: float = 20.0,
        rotate_axes: Sequence[int] = (0, 1, 2),
        shift_range: float | Sequence[float] = 0.2,
        flip_axes: Sequence[int] = (0, 1, 2),
        mode: str = "bilinear",
        padding_mode: str = "border",
    ) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"prob must be in [0, 1], got {prob}.")
        if not 0.0 <= rotation_range <= 180.0:
            raise ValueError(f"rotation_range must be in [0, 180] degrees, got {rotation_range}.")
        RandomizableTransform.__init__(self, prob=prob)
        self.set_random_state()  # an RNG of its own rather than the class-wide default
        self.rotation_range = float(rotation_range)
        self.rotate_axes = check_axes(rotate_axes, name="rotate_axes")
        self.shift_range = check_shift_range(shift_range)
        self.flip_axes = check_axes(flip_axes, name="flip_axes")
        self.mode = mode
        self.padding_mode = padding_mode
        self._params: AugmentParams | None = None

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> RandKerasAugment:
        """Set ``self.R`` like ``Randomizable.set_random_state`` does; returns ``self`` for chaining."""
        super().set_random_state(seed=seed, state=state)
        return self

    @property
    def params(self) -> AugmentParams:
        """Parameters sampled by the last ``randomize()``.

        Raises:
            RuntimeError: nothing sampled yet.
        """
        if self._params is None:
            raise RuntimeError(f"{type(self).__name__}.params: call randomize() (or the transform) first.")
        return self._params

    def randomize(self, data: Any = None) -> None:
        """Draw new :attr:`params` from ``self.R``; ``data`` is unused (the draw is size-independent)."""
        super().randomize(None)
        if not self._do_transform:
            self._params = AugmentParams()
            return
        self._params = AugmentParams(
            rotate_deg=self._sample_rotation(), shift_frac=self._sample_shift(), flip=self._sample_flip()
        )

    def __call__(self, img: NdarrayOrTensor, randomize: bool = True) -> torch.Tensor:
        """Augment ``img`` with freshly drawn parameters (or the last ones if ``randomize=False``).

        Args:
            img: channel-first volume, shape ``(C, H, W, D)``; numpy array, tensor or MetaTensor.
            randomize: draw new parameters first.

        Returns:
            Float32 tensor (MetaTensor when meta tracking is on) of shape ``(C, H, W, D)``.
        """
        if randomize:
            self.randomize()
        return KerasAugment(params=self.params, mode=self.mode, padding_mode=self.padding_mode)(img)

    def _sample_rotation(self) -> tuple[float, float, float]:
        r = self.rotation_range
        a, b, c = (float(self.R.uniform(-r, r)) if axis in self.rotate_axes else 0.0 for axis in range(3))
        return a, b, c

    def _sample_shift(self) -> tuple[float, float, float]:
        a, b, c = (float(self.R.uniform(-s, s)) for s in self.shift_range)
        return a, b, c

    def _sample_flip(self) -> tuple[bool, bool, bool]:
        a, b, c = (bool(self.R.rand() < 0.5) if axis in self.flip_axes else False for axis in range(3))
        return a, b, c


class RandKerasAugmentd(Randomizable, MapTransform):
    """Dictionary version of :class:`RandKerasAugment`: one draw per call, applied to every key.

    Image and label stay aligned because all keys receive the same :class:`AugmentParams`;
    label keys are interpolated with ``"nearest"``. ``set_random_state`` seeds the single
    ``self.R``, which the inner sampler shares.

    Args:
        keys: keys of the channel-first ``(C, H, W, D)`` images and labels.
        label_keys: subset of ``keys`` holding label maps.
        prob: see :class:`RandKerasAugment`.
        rotation_range: see :class:`RandKerasAugment` (degrees).
        rotate_axes: see :class:`RandKerasAugment`.
        shift_range: see :class:`RandKerasAugment` (fraction of the size).
        flip_axes: see :class:`RandKerasAugment`.
        mode: interpolation for the non-label keys.
        padding_mode: see :class:`KerasAugment`.
        allow_missing_keys: do not raise if a key is absent.

    Raises:
        ValueError: ``label_keys`` is not a subset of ``keys``, or an argument is out of range.

    Example:
        >>> import torch
        >>> t = RandKerasAugmentd(keys=("image", "label"), label_keys="label").set_random_state(seed=0)
        >>> img = torch.rand(1, 16, 16, 16)
        >>> out = t({"image": img, "label": (img > 0.5).float()})
        >>> torch.equal(out["label"], KerasAugment(params=t.params, mode="nearest")((img > 0.5).float()))
        True
    """

    backend = KerasAugment.backend

    def __init__(
        self,
        *,
        keys: KeysCollection,
        label_keys: KeysCollection = (),
        prob: float = 1.0,
        rotation_range: float = 20.0,
        rotate_axes: Sequence[int] = (0, 1, 2),
        shift_range: float | Sequence[float] = 0.2,
        flip_axes: Sequence[int] = (0, 1, 2),
        mode: str = "bilinear",
        padding_mode: str = "border",
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.label_keys = check_label_keys(self.keys, label_keys)
        self.sampler = RandKerasAugment(
            prob=prob,
            rotation_range=rotation_range,
            rotate_axes=rotate_axes,
            shift_range=shift_range,
            flip_axes=flip_axes,
            mode=mode,
            padding_mode=padding_mode,
        )
        self.set_random_state()

    def set_random_state(
        self, seed: int | None = None, state: np.random.RandomState | None = None
    ) -> RandKerasAugmentd:
        """Set ``self.R`` like ``Randomizable.set_random_state`` does; the inner sampler shares it."""
        super().set_random_state(seed=seed, state=state)
        self.sampler.set_random_state(state=self.R)
        return self

    @property
    def params(self) -> AugmentParams:
        """Parameters drawn by the last ``randomize()`` (see :attr:`RandKerasAugment.params`)."""
        return self.sampler.params

    def randomize(self, data: Any = None) -> None:
        """Draw new :attr:`params`; ``data`` is unused."""
        self.sampler.randomize(None)

    def __call__(self, data: Mapping[Any, Any], randomize: bool = True) -> dict[Any, Any]:
        """Return a shallow copy of ``data`` with every present key augmented by one shared draw."""
        if randomize:
            self.randomize()
        replay = KerasAugmentd(
            keys=self.keys,
            params=self.params,
            label_keys=tuple(self.label_keys),
            mode=self.sampler.mode,
            padding_mode=self.sampler.padding_mode,
            allow_missing_keys=self.allow_missing_keys,
        )
        return replay(data)


def check_axes(axes: Sequence[int], *, name: str) -> frozenset[int]:
    """Return ``axes`` as a set after checking every entry is a spatial axis 0, 1 or 2.

    Raises:
        ValueError: an entry is not in ``{0, 1, 2}``.
    """
    chosen = frozenset(int(axis) for axis in axes)
    if not chosen <= set(range(SPATIAL_DIMS)):
        raise ValueError(f"{name} must be spatial axes among (0, 1, 2), got {tuple(axes)}.")
    return chosen


def check_shift_range(shift_range: float | Sequence[float]) -> tuple[float, float, float]:
    """Return one shift range per spatial axis after checking each lies in ``[0, 1)``.

    Raises:
        ValueError: wrong number of values, or a value outside ``[0, 1)``.
    """
    values = (shift_range,) * SPATIAL_DIMS if isinstance(shift_range, int | float) else tuple(shift_range)
    if len(values) != SPATIAL_DIMS or not all(0.0 <= float(s) < 1.0 for s in values):
        raise ValueError(
            f"shift_range must be one fraction of the size in [0, 1), or one per spatial axis, got {shift_range}."
        )
    a, b, c = (float(s) for s in values)
    return a, b, c
