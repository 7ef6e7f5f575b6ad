"""Plain config values the runner reads itself (``voxel_size_mm``, ``explain_target_layer``, ``explain_baseline``,
``explain_fallback``), checked and typed."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

from torch import nn

from monai_ext.bundle.errors import BundleConfigError

if TYPE_CHECKING:
    from monai_ext.bundle.loader import Bundle

__all__ = [
    "EXPLAIN_BASELINES",
    "EXPLAIN_FALLBACKS",
    "check_layer",
    "check_layer_name",
    "config_number",
    "explain_baseline",
    "explain_fallback",
]

_LAYER = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")
EXPLAIN_BASELINES = ("zeros",)  # reference inputs a bundle may name for its Grad-CAM heatmap
EXPLAIN_FALLBACKS = ("occlusion",)  # methods a bundle may name for when its Grad-CAM heatmap is empty


def explain_baseline(bundle: Bundle) -> str | None:
    """The config's ``explain_baseline`` (``None`` when absent): the input the Grad-CAM heatmap is relative to.

    ``"zeros"`` is an empty input of the network input's shape (for a shape mask: no shape at all).

    Raises:
        BundleConfigError: names the file and the value.
    """
    return _choice(bundle, "explain_baseline", EXPLAIN_BASELINES)


def explain_fallback(bundle: Bundle) -> str | None:
    """The config's ``explain_fallback`` (``None`` when absent): the method that replaces an empty Grad-CAM map.

    ``"occlusion"`` measures each region's effect on the score directly, where Grad-CAM's linear estimate at
    one layer found nothing; the result then records ``occlusion`` as the heatmap's method.

    Raises:
        BundleConfigError: names the file and the value.
    """
    return _choice(bundle, "explain_fallback", EXPLAIN_FALLBACKS)


def _choice(bundle: Bundle, key: str, choices: tuple[str, ...]) -> str | None:
    value = bundle.optional(key) if key in bundle.config else None
    if value is not None and value not in choices:
        message = f"key {key!r}: {value!r:.80} is not one of {list(choices)} (or null)"
        raise BundleConfigError(message, bundle.config.path)
    return value


def config_number(bundle: Bundle, key: str, *, default: float, low: float, high: float) -> float:
    """The config's number ``key`` (``default`` when absent), refused unless finite and within ``[low, high]``.

    Raises:
        BundleConfigError: names the file, the key and the value.
    """
    value = bundle.optional(key) if key in bundle.config else None
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BundleConfigError(f"key {key!r}: expected a number, got {value!r:.80}", bundle.config.path)
    if not low <= value <= high:
        raise BundleConfigError(f"key {key!r}: {value} is outside [{low:g}, {high:g}]", bundle.config.path)
    return float(value)


def check_layer_name(name: object, path: Path) -> None:
    """Refuse a layer name (``explain_target_layer`` or ``--target-layer``) that is not a dotted module path.

    Raises:
        BundleConfigError: names the file and the value.
    """
    if name is None:
        return
    if not isinstance(name, str) or len(name) > 200 or not _LAYER.match(name):
        raise BundleConfigError(f"explain_target_layer {name!r:.80} is not a layer name like 'backbone.stages.3'", path)


def check_layer(network: nn.Module, name: str | None, path: Path) -> None:
    """Refuse a layer name that ``network`` does not have (lists a few it does have).

    Raises:
        BundleConfigError: names the file, the layer and some valid names.
    """
    if name is None:
        return
    check_layer_name(name, path)
    names = [n for n, _ in network.named_modules() if n]
    if name not in names:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        raise BundleConfigError(
            f"explain_target_layer {name!r}: {type(network).__name__} has no such layer ({shown})", path
        )
