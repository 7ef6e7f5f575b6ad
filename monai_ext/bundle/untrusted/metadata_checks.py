"""Checks of ``metadata.json`` beyond its schema: names that become files, and sizes that become allocations."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from monai_ext.bundle.errors import BundleFileError, BundleLimitError
from monai_ext.bundle.policy import Limits

__all__ = ["check_metadata"]


def check_metadata(metadata: Mapping[str, Any], path: Path, limits: Limits) -> None:
    """Refuse input/output names that are not safe file names, and latent or spatial sizes above the caps.

    Raises:
        BundleFileError: a bad name or a size that is not a positive integer (names the field).
        BundleLimitError: a size above the caps (names the field and the cap).
    """
    data_format = metadata.get("network_data_format") or {}
    for section in ("inputs", "outputs"):
        for name, spec in (data_format.get(section) or {}).items():
            where = f"network_data_format.{section}.{name!r}"
            if not limits.valid_name(name):
                raise BundleFileError(
                    f"{where}: the name must match {limits.name_pattern} (at most {limits.max_name_length} "
                    "characters): it becomes a file name",
                    path,
                )
            if isinstance(spec, Mapping):
                _check_sizes(spec, where, path, limits)


def _check_sizes(spec: Mapping[str, Any], where: str, path: Path, limits: Limits) -> None:
    channels = spec.get("num_channels")
    if channels is not None:
        count = _positive_int(channels, f"{where}.num_channels", path)
        if spec.get("type") == "latent" and count > limits.latent_channels:
            raise BundleLimitError(f"{where}.num_channels {count} is above the cap of {limits.latent_channels}", path)
    shape = spec.get("spatial_shape")
    if isinstance(shape, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in shape):
        voxels = 1
        for side in shape:
            if side > limits.max_side:
                raise BundleLimitError(f"{where}.spatial_shape side {side} is above the cap of {limits.max_side}", path)
            voxels *= max(side, 1)
        if voxels > limits.max_voxels:
            raise BundleLimitError(f"{where}.spatial_shape holds {voxels} voxels, above {limits.max_voxels}", path)


def _positive_int(value: Any, where: str, path: Path) -> int:
    integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not integral or value < 1:
        raise BundleFileError(f"{where} must be a positive integer, got {value!r}", path)
    return int(value)
