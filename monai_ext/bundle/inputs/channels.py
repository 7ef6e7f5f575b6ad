"""Several input volumes as the channels of one input (e.g. the four MR sequences of a brain tumour bundle).

Every channel is resampled onto the first one's grid (linear, zero outside), so the network sees one
``(C, I, J, K)`` volume on the first channel's affine. The bundle metadata's ``channel_def`` says which
sequence goes where; :func:`channel_names` reads it for the messages and the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import ResampleToMatch

from monai_ext.bundle.errors import BundleInputError
from monai_ext.bundle.inputs.source import InputSource, load_input

__all__ = ["channel_names", "check_channels", "load_channels", "order_channels"]

GRID_TOLERANCE_MM = 1e-3


def channel_names(spec: Mapping[str, Any]) -> list[str]:
    """The channel names of an input spec in channel order (``channel_def``; ``channel i`` when unnamed)."""
    count = int(spec.get("num_channels") or 1)
    names = spec.get("channel_def") or {}
    return [str(names.get(str(i), names.get(i, f"channel {i}"))) for i in range(count)]


def load_channels(sources: InputSource | Sequence[InputSource]) -> MetaTensor:
    """Load one input, or several as channels on the first one's grid.

    Args:
        sources: one :data:`~monai_ext.bundle.inputs.source.InputSource`, or a list of them (one per channel).

    Returns:
        ``(C, I, J, K)`` float32 on the first channel's affine; ``filename_or_obj`` is the first source, and
        ``channel_sources`` lists them all.

    Raises:
        BundleInputError: a channel cannot be read (names it).
    """
    if not isinstance(sources, list):
        return load_input(sources)  # type: ignore[arg-type]
    if not sources:
        raise BundleInputError("no input volume given")
    images = [load_input(source) for source in sources]
    first = images[0]
    channels = [first] + [_on_grid(image, first) for image in images[1:]]
    stacked = torch.cat([c.as_tensor() for c in channels], dim=0)
    names = [str(image.meta.get("filename_or_obj", "")) for image in images]
    meta = {"filename_or_obj": names[0], "channel_sources": names}
    return MetaTensor(stacked, affine=torch.as_tensor(first.affine, dtype=torch.float64).clone(), meta=meta)


def order_channels(named: Mapping[str, InputSource], spec: Mapping[str, Any]) -> list[InputSource]:
    """``{channel name: source}`` in the order the metadata's ``channel_def`` expects (names case-insensitive).

    Raises:
        BundleInputError: an unknown or missing channel name (the message lists the expected ones).
    """
    expected = channel_names(spec)
    lookup = {name.lower(): name for name in expected}
    given = {}
    for name, source in named.items():
        if name.lower() not in lookup:
            raise BundleInputError(f"unknown channel {name!r}; the bundle expects {_listing(expected)}")
        given[lookup[name.lower()]] = source
    missing = [name for name in expected if name not in given]
    if missing:
        raise BundleInputError(f"missing channel(s) {missing}; the bundle expects {_listing(expected)}")
    return [given[name] for name in expected]


def check_channels(image: MetaTensor, spec: Mapping[str, Any]) -> None:
    """Refuse an input whose channel count differs from the metadata's ``num_channels``.

    Raises:
        BundleInputError: says which volume goes in which channel.
    """
    expected = spec.get("num_channels")
    if expected is None or image.shape[0] == int(expected):
        return
    raise BundleInputError(
        f"the bundle expects {expected} input channel(s): {_listing(channel_names(spec))}; got {image.shape[0]} "
        "(give one volume per channel in that order, e.g. monai-ext infer A B C D or --channel NAME=PATH)",
        str(image.meta.get("filename_or_obj", "")) or None,
    )


def _listing(names: list[str]) -> str:
    return ", ".join(f"{i}={name}" for i, name in enumerate(names))


def _on_grid(image: MetaTensor, reference: MetaTensor) -> MetaTensor:
    same_shape = tuple(image.shape[1:]) == tuple(reference.shape[1:])
    offset = np.abs(np.asarray(image.affine, dtype=np.float64) - np.asarray(reference.affine, dtype=np.float64))
    if same_shape and float(offset.max()) <= GRID_TOLERANCE_MM:
        return image
    resampled = ResampleToMatch(mode="bilinear", padding_mode="zeros")(image, img_dst=reference)
    values = resampled.as_tensor() if isinstance(resampled, MetaTensor) else torch.as_tensor(resampled)
    return MetaTensor(values.float(), affine=reference.affine)
