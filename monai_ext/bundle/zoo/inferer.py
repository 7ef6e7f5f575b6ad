"""The config's ``inferer`` (``SimpleInferer``, ``SlidingWindowInferer``, or monai-ext's ``FlipAveragingInferer``
around one of them), built from reviewed arguments only.

The inferer is never instantiated from the config: the runner reads its arguments (each resolved through the
safe config, so ``@references`` and admitted expressions work) and builds MONAI's class itself, choosing the
devices: on CUDA the windows run on the GPU and, for a large volume, the stitched output stays on the CPU; on the
CPU ``sw_batch_size`` is capped at :data:`CPU_SW_BATCH` windows (a batch of 4 ran the spleen bundle's 96^3
windows about 3x faster than one at a time on 2 cores; larger batches only add memory).
"""

from __future__ import annotations

from typing import Any

import torch
from monai.inferers import Inferer, SimpleInferer, SlidingWindowInferer

from monai_ext.bundle.errors import UntrustedCodeError
from monai_ext.bundle.policy.kinds import check_product, check_value
from monai_ext.bundle.untrusted.safe_config import BundleConfig, reviewed_class
from monai_ext.bundle.untrusted.safe_expr import UnsafeExpressionError
from monai_ext.bundle.zoo.errors import UnsupportedBundleError
from monai_ext.bundle.zoo.plan import short_name
from monai_ext.inferers import FlipAveragingInferer

__all__ = ["CPU_SW_BATCH", "SLIDING_WINDOW_ARGS", "build_inferer", "inner_inferer", "stitch_device"]

SLIDING_WINDOW_ARGS = ("roi_size", "sw_batch_size", "overlap", "mode", "sigma_scale", "padding_mode", "cval")
FLIP_ARGS = ("inferer", "spatial_axes")
MAX_FLIP_AXES = 3  # 2**3 passes at most
CPU_SW_BATCH = 4
GPU_STITCH_BYTES = 1 << 30  # stitch on the CPU when the output would take more than this on the GPU


def build_inferer(config: BundleConfig, *, device: torch.device) -> Inferer:
    """The inferer the config declares (``SimpleInferer`` when it declares none).

    Args:
        config: the bundle's inference config.
        device: where the network runs.

    Returns:
        A MONAI inferer: ``inferer(inputs, network)`` with ``inputs`` ``(1, C, *spatial)``.

    Raises:
        UnsupportedBundleError: another inferer class in an untrusted bundle, or bad arguments.
    """
    if "inferer" not in config:
        return SimpleInferer()
    raw = config.parser.get("inferer")
    name = short_name(raw.get("_target_")) if isinstance(raw, dict) else ""
    if name == "FlipAveragingInferer":
        return _flip_averaging(config, raw, device)
    reviewed = _reviewed(config, "inferer", raw, device)
    if reviewed is not None:
        return reviewed
    if config.trusted:
        inferer = config.get("inferer")
        if isinstance(inferer, Inferer):
            return inferer
        raise UnsupportedBundleError(f"'inferer' builds a {type(inferer).__name__}, not a MONAI Inferer", config.path)
    raise UntrustedCodeError(
        f"untrusted bundle, key 'inferer': {name or raw!r} is not a reviewed inferer "
        "(SimpleInferer, SlidingWindowInferer, FlipAveragingInferer); pass --trusted to use it",
        config.path,
    )


def _reviewed(config: BundleConfig, key: str, raw: Any, device: torch.device) -> Inferer | None:
    """MONAI's ``SimpleInferer`` or ``SlidingWindowInferer`` at ``key``, built by the runner; ``None`` otherwise."""
    name = short_name(raw.get("_target_")) if isinstance(raw, dict) else ""
    if name == "SimpleInferer":
        return SimpleInferer()
    if name == "SlidingWindowInferer":
        return _sliding_window(config, raw, device, key=key)
    return None


def _flip_averaging(config: BundleConfig, raw: dict[str, Any], device: torch.device) -> FlipAveragingInferer:
    """A ``FlipAveragingInferer`` whose inner inferer is itself a reviewed one (no nesting, no other class)."""
    unknown = sorted(set(raw) - set(FLIP_ARGS) - {"_target_"})
    if unknown and not config.trusted:
        raise UntrustedCodeError(
            f"untrusted bundle, key 'inferer': FlipAveragingInferer arguments {unknown} are not reviewed", config.path
        )
    axes = config.get("inferer#spatial_axes") if "spatial_axes" in raw else [0]
    if (
        not isinstance(axes, (list, tuple))
        or len(axes) > MAX_FLIP_AXES
        or not all(isinstance(a, int) and not isinstance(a, bool) and 0 <= a < MAX_FLIP_AXES for a in axes)
        or len(set(axes)) != len(axes)
    ):
        raise UnsupportedBundleError(
            f"'inferer#spatial_axes' must list distinct spatial axes 0, 1 or 2, got {axes!r}", config.path
        )
    inner_raw = raw.get("inferer")
    if isinstance(inner_raw, str) and inner_raw.startswith("@"):
        raise UnsupportedBundleError(
            "'inferer#inferer' must be written out (a SimpleInferer or SlidingWindowInferer), not a reference",
            config.path,
        )
    inner = SimpleInferer() if inner_raw is None else _reviewed(config, "inferer#inferer", inner_raw, device)
    if inner is None:
        raise UntrustedCodeError(
            "untrusted bundle, key 'inferer#inferer': only SimpleInferer or SlidingWindowInferer may run inside "
            "FlipAveragingInferer",
            config.path,
        )
    return FlipAveragingInferer(inferer=inner, spatial_axes=list(axes))


def _sliding_window(
    config: BundleConfig, raw: dict[str, Any], device: torch.device, *, key: str = "inferer"
) -> SlidingWindowInferer:
    unknown = sorted(set(raw) - set(SLIDING_WINDOW_ARGS) - {"_target_", "sw_device", "device", "progress"})
    if unknown and not config.trusted:
        raise UntrustedCodeError(
            f"untrusted bundle, key '{key}': SlidingWindowInferer arguments {unknown} are not reviewed", config.path
        )
    kwargs = {arg: config.get(f"{key}#{arg}") for arg in SLIDING_WINDOW_ARGS if arg in raw}
    if not config.trusted:
        _check_bounds(config, key, kwargs)
    if "roi_size" not in kwargs:
        raise UnsupportedBundleError(f"'{key}' is a SlidingWindowInferer without roi_size", config.path)
    batch = int(kwargs.get("sw_batch_size", 1))
    kwargs["sw_batch_size"] = max(1, min(batch, CPU_SW_BATCH) if device.type == "cpu" else batch)
    try:
        return SlidingWindowInferer(**kwargs, sw_device=device, device=device, progress=False)
    except (TypeError, ValueError) as err:
        raise UnsupportedBundleError(f"'{key}' arguments are not valid ({err})", config.path) from err


def _check_bounds(config: BundleConfig, key: str, kwargs: dict[str, Any]) -> None:
    """The allow-list's rules for ``SlidingWindowInferer`` on the resolved arguments: each value's kind and
    bounds (``roi_size`` at most ``limits.max_side`` a side) and roi voxels x ``sw_batch_size`` bounded."""
    entry = reviewed_class("SlidingWindowInferer", role="inferer", policy=config.policy)
    try:
        for name, value in kwargs.items():
            check_value(entry.args[name], value, config.policy)
        check_product(entry.bounded_product, kwargs, config.policy)
    except UnsafeExpressionError as err:
        raise UntrustedCodeError(f"untrusted bundle, key '{key}': {err}", config.path) from err


def inner_inferer(inferer: Inferer) -> Inferer:
    """The inferer each pass of a ``FlipAveragingInferer`` runs (the inferer itself otherwise)."""
    return inferer.inferer if isinstance(inferer, FlipAveragingInferer) else inferer


def stitch_device(inferer: Inferer, x: torch.Tensor, out_channels: int, device: torch.device) -> None:
    """On CUDA, keep a sliding window's stitched output on the CPU when it would not fit comfortably."""
    inferer = inner_inferer(inferer)
    if not isinstance(inferer, SlidingWindowInferer) or device.type != "cuda":
        return
    if x[0, 0].numel() * max(out_channels, 1) * 4 * 2 > GPU_STITCH_BYTES:
        inferer.device = torch.device("cpu")
