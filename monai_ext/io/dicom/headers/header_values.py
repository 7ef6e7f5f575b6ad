"""Parsing of plain header values (DS/IS text, numbers, lists) into Python numbers."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["first_float", "float_tuple", "int_or_none"]


def float_tuple(value: Any) -> tuple[float, ...] | None:
    """Convert a multi-valued DS/FD element to floats; ``None`` if absent or not numeric."""
    if value is None:
        return None
    try:
        items = [value] if isinstance(value, str | bytes | int | float) else list(value)
        out = tuple(float(v) for v in items)
    except (TypeError, ValueError):
        return None
    return out if all(math.isfinite(v) for v in out) else None


def first_float(value: Any) -> float | None:
    """First numeric value of a (possibly multi-valued) element, else ``None``."""
    values = float_tuple(value)
    return values[0] if values else None


def int_or_none(value: Any) -> int | None:
    """First value as an ``int``, else ``None``."""
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str | bytes | int | float):
            value = next(iter(value))
        return int(value)
    except (TypeError, ValueError, IndexError):
        return None
