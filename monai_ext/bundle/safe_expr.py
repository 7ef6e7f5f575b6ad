"""A tiny expression language for untrusted bundle configs, evaluated without ``eval``.

MONAI evaluates a config string starting with ``$`` with Python's ``eval``: any code can run. For a bundle
the user has not trusted, :func:`check_expression` accepts only data: literals, ``@references`` (rewritten
by MONAI to ``__local_refs['id']``), arithmetic, comparisons, ``and``/``or``/``not``, conditional
expressions, list/tuple/dict displays and subscripts. Names, attribute access, calls, lambdas and
comprehensions are refused, so no function can ever be reached. :func:`evaluate_expression` walks the
checked tree itself.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["REFS_NAME", "UnsafeExpressionError", "check_expression", "evaluate_expression"]

REFS_NAME = "__local_refs"
MAX_SEQUENCE = 1_000_000  # a "x" * 10**9 display would exhaust memory

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


def check_expression(source: str) -> ast.Expression:
    """Parse ``source`` (without the ``$``) and refuse anything outside the safe subset.

    Returns:
        The parsed tree, ready for :func:`evaluate_expression`.

    Raises:
        UnsafeExpressionError: a syntax error, or the first construct that is not allowed.

    Example:
        >>> evaluate_expression(check_expression("2 if __local_refs['x'] else 1"), {"x": True})
        2
    """
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as err:
        raise UnsafeExpressionError(f"not a Python expression ({err.msg})") from err
    for node in ast.walk(tree):
        _check_node(node)
    return tree


def _check_node(node: ast.AST) -> None:
    allowed = (
        ast.Expression, ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.BinOp, ast.UnaryOp,
        ast.BoolOp, ast.Compare, ast.IfExp, ast.Subscript, ast.Slice, ast.Load, ast.Name,
        ast.And, ast.Or, *_BINARY, *_UNARY, *_COMPARE,
    )  # fmt: skip
    if not isinstance(node, allowed):
        raise UnsafeExpressionError(f"{_describe(node)} is not allowed")
    if isinstance(node, ast.Name) and node.id != REFS_NAME:
        raise UnsafeExpressionError(f"the name {node.id!r} is not allowed (only literals and @references)")


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        return "a function call"
    if isinstance(node, ast.Attribute):
        return f"attribute access (.{node.attr})"
    if isinstance(node, ast.operator | ast.unaryop | ast.cmpop):
        return f"the operator {type(node).__name__}"
    return f"{type(node).__name__}"


def evaluate_expression(tree: ast.Expression, refs: Mapping[str, Any]) -> Any:
    """Evaluate a tree from :func:`check_expression`; ``__local_refs[...]`` reads ``refs``."""
    return _eval(tree.body, refs)


def _eval(node: ast.AST, refs: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        items = [_eval(e, refs) for e in node.elts]
        return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise UnsafeExpressionError("dict unpacking (**) is not allowed")
        return {_eval(k, refs): _eval(v, refs) for k, v in zip(node.keys, node.values, strict=True) if k is not None}
    if isinstance(node, ast.BinOp):
        return _binary(node, _eval(node.left, refs), _eval(node.right, refs))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_eval(node.operand, refs))
    if isinstance(node, ast.BoolOp):
        return _bool(node, refs)
    if isinstance(node, ast.Compare):
        return _compare(node, refs)
    if isinstance(node, ast.IfExp):
        branch: ast.AST = node.body if _eval(node.test, refs) else node.orelse
        return _eval(branch, refs)
    if isinstance(node, ast.Subscript):
        return _subscript(node, refs)
    if isinstance(node, ast.Slice):
        parts = (node.lower, node.upper, node.step)
        return slice(*(None if p is None else _eval(p, refs) for p in parts))
    raise UnsafeExpressionError(f"{_describe(node)} is not allowed")


def _binary(node: ast.BinOp, left: Any, right: Any) -> Any:
    if isinstance(node.op, ast.Mult):
        for seq, count in ((left, right), (right, left)):
            sized = isinstance(seq, str | bytes | list | tuple) and isinstance(count, int)
            if sized and len(seq) * count > MAX_SEQUENCE:
                raise UnsafeExpressionError(f"a repeated sequence longer than {MAX_SEQUENCE} items")
    return _BINARY[type(node.op)](left, right)


def _bool(node: ast.BoolOp, refs: Mapping[str, Any]) -> Any:
    value: Any = None
    for operand in node.values:
        value = _eval(operand, refs)
        if isinstance(node.op, ast.And) and not value:
            return value
        if isinstance(node.op, ast.Or) and value:
            return value
    return value


def _compare(node: ast.Compare, refs: Mapping[str, Any]) -> bool:
    left = _eval(node.left, refs)
    for op, comparator in zip(node.ops, node.comparators, strict=True):
        right = _eval(comparator, refs)
        if not _COMPARE[type(op)](left, right):
            return False
        left = right
    return True


def _subscript(node: ast.Subscript, refs: Mapping[str, Any]) -> Any:
    key = _eval(node.slice, refs)
    if isinstance(node.value, ast.Name):  # the only name allowed: the reference table
        if not isinstance(key, str) or key not in refs:
            raise UnsafeExpressionError(f"unknown reference @{key}")
        return refs[key]
    return _eval(node.value, refs)[key]
