"""A tiny expression language for untrusted bundle configs, evaluated without ``eval``.

MONAI evaluates a config string starting with ``$`` with Python's ``eval``: any code can run. For a bundle
the user has not trusted, :func:`check_expression` accepts only data: literals, ``@references`` (rewritten
by MONAI to ``__local_refs['id']``), arithmetic, comparisons, ``and``/``or``/``not``, conditional
expressions, list/tuple/dict displays and subscripts, plus a few reviewed pure names:

* the functions ``len``, ``min``, ``max``, ``int``, ``float``, ``round``, ``abs`` and ``range`` (bounded);
* constants of MONAI's string-key classes and enums (``monai.utils.CommonKeys.IMAGE``, see
  :data:`CONSTANT_CLASSES`) and numeric dtypes (``torch.float32``, ``numpy.float32``);
* the CPU/CUDA device choice: ``torch.device(...)`` (any argument) and ``monai_ext.engines.default_device()``
  evaluate to the runner's device, ``torch.cuda.is_available()`` to whether that device is CUDA.

Any other name, attribute access, call, lambda or comprehension is refused, so no other function can ever
be reached. :func:`evaluate_expression` walks the checked tree itself and caps every intermediate value
(:data:`MAX_STRING` characters, :data:`MAX_INT_BITS` bits, :data:`MAX_ITEMS` items, :data:`MAX_WEIGHT` in
total), checking ``+``, ``*`` and ``%`` *before* they allocate. A failing operation (a division by zero, a
wrong type) is an :class:`ExpressionValueError`.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = [
    "CONSTANT_CLASSES",
    "FUNCTIONS",
    "MAX_INT_BITS",
    "MAX_ITEMS",
    "MAX_STRING",
    "MAX_WEIGHT",
    "REFS_NAME",
    "ExpressionContext",
    "ExpressionLimitError",
    "ExpressionValueError",
    "UnsafeExpressionError",
    "check_expression",
    "evaluate_expression",
]

REFS_NAME = "__local_refs"
MAX_STRING = 1_000_000  # characters of any intermediate string ('%01000000000d' % 0 is refused before it runs)
MAX_INT_BITS = 1024  # bits of any intermediate integer (no squaring chains of 4000-digit numbers)
MAX_ITEMS = 100_000  # items of any intermediate list, tuple, set, dict or range
MAX_WEIGHT = 1_000_000  # items of a value counted through its nested containers
MAX_SOURCE = 10_000  # characters of one expression
MAX_NODES = 2_000  # syntax-tree nodes of one expression
MAX_SEQUENCE = MAX_ITEMS  # kept for callers of the old name

CONSTANT_CLASSES = (
    "CommonKeys", "GanKeys", "AdversarialKeys", "MetaKeys", "SpaceKeys", "TraceKeys", "PostFix",
    "InterpolateMode", "GridSampleMode", "GridSamplePadMode", "NumpyPadMode", "PytorchPadMode", "BlendMode",
    "UpsampleMode", "Method", "LossReduction", "Weight", "ForwardMode",
)  # fmt: skip
_DTYPE_NAMES = (
    "bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64",
    "half", "float", "double", "long", "int",
)  # fmt: skip
_DEVICE_CALLS = ("torch.device", "monai_ext.engines.default_device", "monai_ext.engines.device.default_device")
_CUDA_CALLS = ("torch.cuda.is_available",)
_FORMAT = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])")

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.Not: operator.not_,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}


class UnsafeExpressionError(ValueError):
    """The expression uses something outside the safe subset; the message says what."""


class ExpressionValueError(UnsafeExpressionError):
    """A safe expression failed while evaluating (a division by zero, a wrong type)."""


class ExpressionLimitError(ExpressionValueError):
    """A value of a safe expression would outgrow its cap (string length, integer bits, items)."""


@dataclass(frozen=True)
class ExpressionContext:
    """What the few reviewed names evaluate to.

    Attributes:
        device: the runner's device: the value of every ``torch.device(...)``.
    """

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))


def _constants() -> dict[str, Any]:
    import monai.utils as utils

    table: dict[str, Any] = {}
    for name in CONSTANT_CLASSES:
        cls = getattr(utils, name, None)
        if cls is None:
            continue
        for member, value in vars(cls).items():
            if not member.startswith("_") and isinstance(value, str):
                for prefix in ("monai.utils.", "monai.utils.enums."):
                    table[f"{prefix}{name}.{member}"] = value
        for member in getattr(cls, "__members__", {}):
            value = getattr(cls, member)
            for prefix in ("monai.utils.", "monai.utils.enums."):
                table[f"{prefix}{name}.{member}"] = value
    for name in _DTYPE_NAMES:
        if isinstance(getattr(torch, name, None), torch.dtype):
            table[f"torch.{name}"] = getattr(torch, name)
        if name not in ("bool", "float", "int") and isinstance(getattr(np, name, None), type):
            table[f"numpy.{name}"] = table[f"np.{name}"] = getattr(np, name)
    return table


_CONSTANTS = _constants()


def _safe_range(*args: Any) -> list[int]:
    if not all(isinstance(a, int) for a in args):
        raise ExpressionValueError("range() takes integers")
    span = range(*args)
    if len(span) > MAX_ITEMS:
        raise ExpressionLimitError(f"range() of {len(span)} items, more than {MAX_ITEMS}")
    return list(span)


def _safe_round(number: Any, ndigits: Any = None) -> Any:
    if ndigits is not None and (not isinstance(ndigits, int) or abs(ndigits) > 100):
        raise ExpressionLimitError("round() takes at most 100 digits")
    return round(number) if ndigits is None else round(number, ndigits)


def _safe_int(value: Any, base: Any = None) -> int:
    # any finite float fits in MAX_INT_BITS (1024) bits; strings are capped at MAX_STRING and Python refuses
    # more than 4300 digits; the result is capped like every other value
    return int(value) if base is None else int(value, base)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len,
    "min": min,
    "max": max,
    "int": _safe_int,
    "float": float,
    "round": _safe_round,
    "abs": abs,
    "range": _safe_range,
}


def check_expression(source: str) -> ast.Expression:
    """Parse ``source`` (without the ``$``) and refuse anything outside the safe subset.

    Returns:
        The parsed tree, ready for :func:`evaluate_expression`.

    Raises:
        UnsafeExpressionError: a syntax error, a too long expression, or the first construct that is not allowed.

    Example:
        >>> evaluate_expression(check_expression("2 if __local_refs['x'] else 1"), {"x": True})
        2
    """
    if len(source) > MAX_SOURCE:
        raise UnsafeExpressionError(f"an expression of {len(source)} characters (at most {MAX_SOURCE})")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        raise UnsafeExpressionError(f"not a Python expression ({getattr(err, 'msg', err)})") from err
    pending: list[tuple[ast.AST, int]] = [(tree, 0)]
    nodes = 0
    while pending:
        node, depth = pending.pop()
        nodes += 1
        if nodes > MAX_NODES or depth > 100:
            raise UnsafeExpressionError(f"the expression is too large (more than {MAX_NODES} parts or 100 levels)")
        for child in _check_node(node):
            pending.append((child, depth + 1))
    return tree


def _check_node(node: ast.AST) -> list[ast.AST]:
    """Refuse ``node`` unless it is allowed; return the children still to check."""
    allowed = (
        ast.Expression, ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.BinOp, ast.UnaryOp,
        ast.BoolOp, ast.Compare, ast.IfExp, ast.Subscript, ast.Slice, ast.Load,
        ast.And, ast.Or, *_BINARY, *_UNARY, *_COMPARE,
    )  # fmt: skip
    if isinstance(node, ast.Name):
        if node.id != REFS_NAME:
            raise UnsafeExpressionError(f"the name {node.id!r} is not allowed (only literals and @references)")
        return []
    if isinstance(node, ast.Attribute):
        dotted = _dotted(node)
        if dotted not in _CONSTANTS:
            raise UnsafeExpressionError(f"attribute access (.{node.attr}) is not allowed ({dotted or 'an object'})")
        return []
    if isinstance(node, ast.Call):
        return _check_call(node)
    if isinstance(node, ast.Constant):
        _cap(node.value)
    if not isinstance(node, allowed):
        raise UnsafeExpressionError(f"{_describe(node)} is not allowed")
    return list(ast.iter_child_nodes(node))


def _check_call(node: ast.Call) -> list[ast.AST]:
    name = node.func.id if isinstance(node.func, ast.Name) else _dotted(node.func)
    if name not in FUNCTIONS and name not in _DEVICE_CALLS and name not in _CUDA_CALLS:
        raise UnsafeExpressionError(f"a function call ({name or 'an expression'}) is not allowed")
    if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
        raise UnsafeExpressionError(f"a function call ({name}) with keyword or * arguments is not allowed")
    if name in _CUDA_CALLS and node.args:
        raise UnsafeExpressionError(f"{name}() takes no arguments")
    return list(node.args)


def _dotted(node: ast.AST) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.operator | ast.unaryop | ast.cmpop):
        return f"the operator {type(node).__name__}"
    return f"{type(node).__name__}"


def evaluate_expression(tree: ast.Expression, refs: Mapping[str, Any], context: ExpressionContext | None = None) -> Any:
    """Evaluate a tree from :func:`check_expression`; ``__local_refs[...]`` reads ``refs``.

    Raises:
        UnsafeExpressionError: an unknown reference.
        ExpressionValueError: the evaluation failed or a value outgrew its cap (the message says which).
    """
    evaluator = _Evaluator(refs, context or ExpressionContext())
    try:
        return evaluator.eval(tree.body)
    except UnsafeExpressionError:
        raise
    except (ArithmeticError, TypeError, ValueError, KeyError, IndexError, AttributeError) as err:
        raise ExpressionValueError(f"the expression failed ({type(err).__name__}: {err})") from err
    except (RecursionError, MemoryError) as err:
        raise ExpressionLimitError(f"the expression is too large to evaluate ({type(err).__name__})") from err


class _Evaluator:
    def __init__(self, refs: Mapping[str, Any], context: ExpressionContext) -> None:
        self.refs = refs
        self.context = context
        self.weights: dict[int, tuple[object, int]] = {}  # id -> (value kept alive, weight)

    def eval(self, node: ast.AST) -> Any:
        return self.weigh(self._eval(node))

    def _eval(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            items = [self.eval(e) for e in node.elts]
            return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise UnsafeExpressionError("dict unpacking (**) is not allowed")
            return {self.eval(k): self.eval(v) for k, v in zip(node.keys, node.values, strict=True) if k is not None}
        if isinstance(node, ast.BinOp):
            return _binary(node, self.eval(node.left), self.eval(node.right))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self.eval(node.operand))
        if isinstance(node, ast.BoolOp):
            return self._bool(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.IfExp):
            return self.eval(node.body if self.eval(node.test) else node.orelse)
        if isinstance(node, ast.Subscript):
            return self._subscript(node)
        if isinstance(node, ast.Slice):
            parts = (node.lower, node.upper, node.step)
            return slice(*(None if p is None else self.eval(p) for p in parts))
        if isinstance(node, ast.Attribute):
            return _CONSTANTS[str(_dotted(node))]
        if isinstance(node, ast.Call):
            return self._call(node)
        raise UnsafeExpressionError(f"{_describe(node)} is not allowed")

    def _call(self, node: ast.Call) -> Any:
        name = node.func.id if isinstance(node.func, ast.Name) else str(_dotted(node.func))
        args = [self.eval(a) for a in node.args]
        if name in _DEVICE_CALLS:
            return self.context.device  # whatever the bundle asks for, it runs where the runner runs
        if name in _CUDA_CALLS:
            return self.context.device.type == "cuda"
        return FUNCTIONS[name](*args)

    def _bool(self, node: ast.BoolOp) -> Any:
        value: Any = None
        for operand in node.values:
            value = self.eval(operand)
            if isinstance(node.op, ast.And) and not value:
                return value
            if isinstance(node.op, ast.Or) and value:
                return value
        return value

    def _compare(self, node: ast.Compare) -> bool:
        left = self.eval(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.eval(comparator)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True

    def _subscript(self, node: ast.Subscript) -> Any:
        key = self.eval(node.slice)
        if isinstance(node.value, ast.Name):  # the only name allowed: the reference table
            if not isinstance(key, str) or key not in self.refs:
                raise UnsafeExpressionError(f"unknown reference @{key}")
            return self.refs[key]
        return self.eval(node.value)[key]

    def weigh(self, value: Any) -> Any:
        """Return ``value`` after checking its size and its size counted through nested containers."""
        _cap(value)
        if isinstance(value, list | tuple | set | frozenset | dict):
            key = id(value)
            if key not in self.weights:
                children = list(value.items()) if isinstance(value, dict) else value
                total = 1
                for child in children:
                    total += self._weight(child)
                    if total > MAX_WEIGHT:
                        raise ExpressionLimitError(f"a value holding more than {MAX_WEIGHT} items")
                self.weights[key] = (value, total)
        return value

    def _weight(self, value: Any) -> int:
        if isinstance(value, str | bytes):
            return 1 + len(value) // 64
        if isinstance(value, list | tuple | set | frozenset | dict):
            self.weigh(value)
            return self.weights[id(value)][1]
        return 1


def _cap(value: Any) -> None:
    """Refuse a value above the caps of :mod:`safe_expr`."""
    if isinstance(value, str | bytes) and len(value) > MAX_STRING:
        raise ExpressionLimitError(f"a string of {len(value)} characters, more than {MAX_STRING}")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ExpressionLimitError(f"an integer of {value.bit_length()} bits, more than {MAX_INT_BITS}")
    if isinstance(value, list | tuple | set | frozenset | dict) and len(value) > MAX_ITEMS:
        raise ExpressionLimitError(f"a collection of {len(value)} items, more than {MAX_ITEMS}")


def _length(value: Any) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple) else None


def _binary(node: ast.BinOp, left: Any, right: Any) -> Any:
    """Apply a binary operator after checking that its result stays within the caps."""
    op = type(node.op)
    if op is ast.Add:
        a, b = _length(left), _length(right)
        if a is not None and b is not None and a + b > (MAX_STRING if isinstance(left, str | bytes) else MAX_ITEMS):
            raise ExpressionLimitError(f"a concatenation of {a + b} items, above the cap")
    if op is ast.Mult:
        for seq, count in ((left, right), (right, left)):
            size = _length(seq)
            if size is not None and isinstance(count, int):
                cap = MAX_STRING if isinstance(seq, str | bytes) else MAX_ITEMS
                if size * count > cap:
                    raise ExpressionLimitError(f"a repeated sequence of {size * count} items, longer than {cap}")
        both_int = isinstance(left, int) and isinstance(right, int)
        if both_int and left.bit_length() + right.bit_length() > MAX_INT_BITS + 1:
            raise ExpressionLimitError(f"a product above {MAX_INT_BITS} bits")
    if op is ast.Mod and isinstance(left, str | bytes):
        _check_format(left if isinstance(left, str) else left.decode("latin-1"), right)
    return _BINARY[op](left, right)


def _check_format(template: str, args: Any) -> None:
    """Refuse ``template % args`` if it could outgrow :data:`MAX_STRING` (widths are read before formatting)."""
    budget = len(template)
    for match in _FORMAT.finditer(template):
        width, precision, _ = match.groups()
        if "*" in (width, precision):
            raise ExpressionLimitError("'%' formatting with '*' widths is not allowed")
        budget += int(width or 0) + int(precision or 0)
    values = args if isinstance(args, tuple) else (args,)
    for value in values:
        if isinstance(value, str | bytes):
            budget += len(value)
        elif isinstance(value, list | tuple | set | dict):
            raise ExpressionLimitError("'%' formatting of a collection is not allowed")
        else:
            budget += 64
    if budget > MAX_STRING:
        raise ExpressionLimitError(f"'%' formatting would give up to {budget} characters, more than {MAX_STRING}")
