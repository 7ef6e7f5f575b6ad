"""The value kinds of :file:`allowlist.yaml`: one check per kind, run on an argument's resolved value.

A check never builds, imports or calls anything from the value; it only inspects plain data (and, for the
``transform``/``device``/``dtype`` kinds, the type of an object the config itself produced). Every kind admits
``None``. Nested data is walked with an explicit stack, so hostile nesting cannot recurse.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from monai_ext.bundle.untrusted.safe_expr import UnsafeExpressionError

if TYPE_CHECKING:
    from monai_ext.bundle.policy.allowlist import ArgRule, Policy

__all__ = ["KINDS", "MAX_DATA_ITEMS", "check_product", "check_value"]

MAX_DATA_ITEMS = 10_000
MAX_TEXT = 64
_DEFAULT_INT = 2**31
_DTYPES = {
    "bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64",
    "half", "float", "double", "int", "long", "short",
}  # fmt: skip
_DEVICE = re.compile(r"^(cpu|cuda(:\d{1,2})?)$")


def check_value(rule: ArgRule, value: Any, policy: Policy) -> None:
    """Refuse ``value`` unless it is of ``rule``'s kind and within its bounds.

    Raises:
        UnsafeExpressionError: names the argument and the reason.
    """
    if value is None:
        return
    try:
        _CHECKS[rule.kind](rule, value, policy)
    except _RefusedError as err:
        raise UnsafeExpressionError(f"argument {rule.name!r} ({rule.kind}): {err}") from None


def check_product(names: Sequence[str], args: Mapping[str, Any], policy: Policy) -> None:
    """Refuse arguments whose values multiply beyond ``policy.limits.max_voxels`` (a single number of a
    ``size`` broadcasts to three axes). Run after :func:`check_value`, so the values are plain numbers.

    Raises:
        UnsafeExpressionError: names the arguments and the product.
    """
    total = 1
    for name in names:
        value = args.get(name)
        if value is None:
            continue
        leaves = [int(v) for v in _leaves(value)]
        for leaf in leaves:
            total *= max(leaf, 1)
        if len(leaves) == 1 and not isinstance(value, list | tuple) and name.endswith(("size", "roi_size")):
            total *= max(leaves[0], 1) ** 2
    if total > policy.limits.max_voxels:
        raise UnsafeExpressionError(
            f"{' x '.join(names)} come to {total} voxels at once, more than the limit of {policy.limits.max_voxels}"
        )


class _RefusedError(Exception):
    pass


def _flag(rule: ArgRule, value: Any, policy: Policy) -> None:
    if not isinstance(value, bool | np.bool_):
        raise _RefusedError(f"expected true or false, got {_show(value)}")


def _flags(rule: ArgRule, value: Any, policy: Policy) -> None:
    for item in _leaves(value):
        _flag(rule, item, policy)


def _int(rule: ArgRule, value: Any, policy: Policy) -> None:
    _bounded_int(value, rule.minimum, rule.maximum, -_DEFAULT_INT, _DEFAULT_INT)


def _number(rule: ArgRule, value: Any, policy: Policy) -> None:
    _bounded_number(value, rule.minimum, rule.maximum)


def _ints(rule: ArgRule, value: Any, policy: Policy) -> None:
    for item in _leaves(value):
        _bounded_int(item, rule.minimum, rule.maximum, -65536, 65536)


def _numbers(rule: ArgRule, value: Any, policy: Policy) -> None:
    for item in _leaves(value):
        _bounded_number(item, rule.minimum, rule.maximum)


def _size(rule: ArgRule, value: Any, policy: Policy) -> None:
    limits = policy.limits
    sides = _leaves(value)
    if len(sides) > 3:
        raise _RefusedError(f"{len(sides)} spatial sides (at most 3)")
    voxels = 1
    for side in sides:
        _bounded_int(side, -1, limits.max_side, -1, limits.max_side)
        if side == 0:
            raise _RefusedError("a side of 0 voxels")
        voxels *= max(int(side), 1)
    if len(sides) == 1 and not isinstance(value, list | tuple):
        voxels = voxels**3  # one number means the same size along every axis
    if voxels > limits.max_voxels:
        raise _RefusedError(f"{voxels} voxels, more than the limit of {limits.max_voxels}")


def _spacing(rule: ArgRule, value: Any, policy: Policy) -> None:
    limits = policy.limits
    for item in _leaves(value):
        _bounded_number(item, limits.min_spacing_mm, limits.max_spacing_mm)


def _keys(rule: ArgRule, value: Any, policy: Policy) -> None:
    items = [value] if isinstance(value, str) else _sequence(value)
    for key in items:
        if not policy.limits.valid_name(key):
            raise _RefusedError(f"{_show(key)} is not a valid key or output name ({policy.limits.name_pattern})")


def _text(rule: ArgRule, value: Any, policy: Policy) -> None:
    items = [value] if isinstance(value, str) else _sequence(value)
    for item in items:
        if item is not None and not (isinstance(item, str) and len(item) <= MAX_TEXT and item.isprintable()):
            raise _RefusedError(f"expected a short plain string, got {_show(item)}")


def _choice(rule: ArgRule, value: Any, policy: Policy) -> None:
    items = [value] if isinstance(value, str | int | float) else _sequence(value)
    for item in items:
        if isinstance(item, bool) or item not in rule.values:
            raise _RefusedError(f"{_show(item)} is not one of {list(rule.values)}")


def _dtype(rule: ArgRule, value: Any, policy: Policy) -> None:
    if isinstance(value, str) and value.removeprefix("torch.").removeprefix("numpy.").removeprefix("np.") in _DTYPES:
        return
    if isinstance(value, torch.dtype) and not value.is_complex:
        return
    if isinstance(value, type) and issubclass(value, np.number | np.bool_):
        return
    if isinstance(value, np.dtype) and value.kind in "biuf":
        return
    raise _RefusedError(f"{_show(value)} is not a numeric dtype")


def _device(rule: ArgRule, value: Any, policy: Policy) -> None:
    if isinstance(value, torch.device) and value.type in ("cpu", "cuda"):
        return
    if isinstance(value, str) and _DEVICE.match(value):
        return
    raise _RefusedError(f"{_show(value)} is not a CPU or CUDA device")


def _layer(rule: ArgRule, value: Any, policy: Policy) -> None:
    from monai.networks.layers.factories import Act, Dropout, Norm

    name, options = (value, None) if isinstance(value, str) else (_pair(value))
    known = set(Act.names) | set(Norm.names) | set(Dropout.names)
    if not isinstance(name, str) or name.upper() not in known:
        raise _RefusedError(f"{_show(name)} is not a MONAI layer name ({', '.join(sorted(known)).lower()})")
    if options is not None:
        if not isinstance(options, Mapping):
            raise _RefusedError("layer options must be a mapping of plain values")
        _plain(options)


def _transform(rule: ArgRule, value: Any, policy: Policy) -> None:
    if not policy.admits(value, "transform"):
        raise _RefusedError(f"a {type(value).__name__}, not a transform this policy admits")


def _transforms(rule: ArgRule, value: Any, policy: Policy) -> None:
    if not isinstance(value, list | tuple):
        raise _RefusedError(f"expected a list of transforms, got {type(value).__name__}")
    for item in value:
        _transform(rule, item, policy)


def _data(rule: ArgRule, value: Any, policy: Policy) -> None:
    _plain(value)


def _pair(value: Any) -> tuple[Any, Any]:
    if isinstance(value, list | tuple) and len(value) == 2:
        return value[0], value[1]
    raise _RefusedError(f"expected a layer name or [name, {{options}}], got {_show(value)}")


def _bounded_int(value: Any, low: float | None, high: float | None, default_low: int, default_high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise _RefusedError(f"expected an integer, got {_show(value)}")
    low = default_low if low is None else low
    high = default_high if high is None else high
    if not low <= int(value) <= high:
        raise _RefusedError(f"{int(value)} is outside [{low:g}, {high:g}]")


def _bounded_number(value: Any, low: float | None, high: float | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise _RefusedError(f"expected a number, got {_show(value)}")
    if isinstance(value, int) and value.bit_length() > 64:
        raise _RefusedError("an integer too large for a number argument")
    number = float(value)
    if not math.isfinite(number):
        raise _RefusedError(f"{number} is not finite")
    if (low is not None and number < low) or (high is not None and number > high):
        raise _RefusedError(
            f"{number:g} is outside [{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        )


def _sequence(value: Any) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise _RefusedError(f"expected a value or a list, got {_show(value)}")
    if len(value) > MAX_DATA_ITEMS:
        raise _RefusedError(f"a list of {len(value)} items")
    return value


def _leaves(value: Any) -> list[Any]:
    """The scalars of a value or of a nested list (at most 3 levels, :data:`MAX_DATA_ITEMS` items)."""
    found: list[Any] = []
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, list | tuple):
            if depth >= 3:
                raise _RefusedError("lists nested more than 3 deep")
            stack.extend((child, depth + 1) for child in reversed(_sequence(item)))
        elif isinstance(item, torch.Tensor | np.ndarray) and item.ndim <= 1 and item.numel() <= 16:  # type: ignore[union-attr]
            found.extend(item.tolist())
        elif item is not None:  # per-key lists may leave a key at its default: [true, null]
            found.append(item)
        if len(found) + len(stack) > MAX_DATA_ITEMS:
            raise _RefusedError(f"more than {MAX_DATA_ITEMS} values")
    return found


def _plain(value: Any) -> None:
    """Refuse anything but bounded JSON-like data (None, bool, numbers, strings, lists, mappings)."""
    stack = [value]
    seen = 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > MAX_DATA_ITEMS:
            raise _RefusedError(f"more than {MAX_DATA_ITEMS} values")
        if item is None or isinstance(item, bool | int | float):
            if isinstance(item, int) and not isinstance(item, bool) and item.bit_length() > 64:
                raise _RefusedError("an integer too large")
        elif isinstance(item, str):
            if len(item) > 1000:
                raise _RefusedError("a string longer than 1000 characters")
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            raise _RefusedError(f"a {type(item).__name__} where only plain data is allowed")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_CHECKS: dict[str, Callable[[ArgRule, Any, Policy], None]] = {
    "flag": _flag,
    "flags": _flags,
    "int": _int,
    "number": _number,
    "ints": _ints,
    "numbers": _numbers,
    "size": _size,
    "spacing": _spacing,
    "keys": _keys,
    "text": _text,
    "choice": _choice,
    "dtype": _dtype,
    "device": _device,
    "layer": _layer,
    "transform": _transform,
    "transforms": _transforms,
    "data": _data,
}
KINDS = tuple(_CHECKS)
