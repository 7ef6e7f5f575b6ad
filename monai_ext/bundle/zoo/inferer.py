"""The config's ``inferer`` (``SimpleInferer`` or ``SlidingWindowInferer``), built from reviewed arguments only.

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
from monai_ext.bundle.safe_config import BundleConfig
from monai_ext.bundle.zoo.errors import UnsupportedBundleError
from monai_ext.bundle.zoo.plan import short_name

__all__ = ["CPU_SW_BATCH", "SLIDING_WINDOW_ARGS", "build_inferer", "stitch_device"]

SLIDING_WINDOW_ARGS = ("roi_size", "sw_batch_size", "overlap", "mode", "sigma_scale", "padding_mode", "cval")
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
    if name == "SimpleInferer":
        return SimpleInferer()
    if name == "SlidingWindowInferer":
        return _sliding_window(config, raw, device)
    if config.trusted:
        inferer = config.get("inferer")
        if isinstance(inferer, Inferer):
            return inferer
        raise UnsupportedBundleError(f"'inferer' builds a {type(inferer).__name__}, not a MONAI Inferer", config.path)
    raise UntrustedCodeError(
        f"untrusted bundle, key 'inferer': {name or raw!r} is not a reviewed inferer "
        "(SimpleInferer, SlidingWindowInferer); pass --trusted to use it",
        config.path,
    )


def _sliding_window(config: BundleConfig, raw: dict[str, Any], device: torch.device) -> SlidingWindowInferer:
    unknown = sorted(set(raw) - set(SLIDING_WINDOW_ARGS) - {"_target_", "sw_device", "device", "progress"})
    if unknown and not config.trusted:
        raise UntrustedCodeError(
            f"untrusted bundle, key 'inferer': SlidingWindowInferer arguments {unknown} are not reviewed", config.path
        )
    kwargs = {key: config.get(f"inferer#{key}") for key in SLIDING_WINDOW_ARGS if key in raw}
    if "roi_size" not in kwargs:
        raise UnsupportedBundleError("'inferer' is a SlidingWindowInferer without roi_size", config.path)
    batch = int(kwargs.get("sw_batch_size", 1))
    kwargs["sw_batch_size"] = max(1, min(batch, CPU_SW_BATCH) if device.type == "cpu" else batch)
    try:
        return SlidingWindowInferer(**kwargs, sw_device=device, device=device, progress=False)
    except (TypeError, ValueError) as err:
        raise UnsupportedBundleError(f"'inferer' arguments are not valid ({err})", config.path) from err


def stitch_device(inferer: Inferer, x: torch.Tensor, out_channels: int, device: torch.device) -> None:
    """On CUDA, keep a sliding window's stitched output on the CPU when it would not fit comfortably."""
    if not isinstance(inferer, SlidingWindowInferer) or device.type != "cuda":
        return
    if x[0, 0].numel() * max(out_channels, 1) * 4 * 2 > GPU_STITCH_BYTES:
        inferer.device = torch.device("cpu")
