"""The data-only expression subset: what evaluates, and what is refused before anything runs."""

from __future__ import annotations

import pytest

from monai_ext.bundle.safe_expr import UnsafeExpressionError, check_expression, evaluate_expression


def _eval(text: str, **refs: object) -> object:
    return evaluate_expression(check_expression(text), refs)


@pytest.mark.parametrize(
    ("text", "refs", "expected"),
    [
        ("2 if __local_refs['d'] else 1", {"d": True}, 2),
        ("2 if __local_refs['d'] else 1", {"d": False}, 1),
        ("not __local_refs['d']", {"d": True}, False),
        ("__local_refs['root'] + '/models/model.pt'", {"root": "/b"}, "/b/models/model.pt"),
        ("[1, 2] + [3]", {}, [1, 2, 3]),
        ("{'a': (1 + 2) * 3 // 2 % 4, 'b': -1.5}", {}, {"a": 0, "b": -1.5}),
        ("1 < __local_refs['n'] <= 3 and __local_refs['n'] != 2", {"n": 3}, True),
        ("__local_refs['xs'][1:]", {"xs": [4, 5, 6]}, [5, 6]),
        ("'a' in __local_refs['xs'] or None", {"xs": ["b"]}, None),
    ],
)
def test_data_expressions_evaluate(text: str, refs: dict, expected: object) -> None:
    assert _eval(text, **refs) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("__import__('os').system('echo pwned')", "function call"),
        ("open('/etc/passwd')", "function call"),
        ("__import__", "name '__import__'"),
        ("__local_refs['net'].to", "attribute access"),
        ("__local_refs['x'].__class__", "attribute access"),
        ("lambda: 1", "Lambda"),
        ("[x for x in (1, 2)]", "ListComp"),
        ("2 ** 1000", "Pow"),
        ("torch.load", "attribute access"),
        ("x := 1", "not a Python expression"),
    ],
)
def test_code_is_refused_before_running(text: str, reason: str) -> None:
    with pytest.raises(UnsafeExpressionError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        check_expression(text)


def test_huge_repetition_is_refused() -> None:
    with pytest.raises(UnsafeExpressionError, match="longer than"):
        _eval("'a' * 1000000000")


def test_unknown_reference_is_an_error() -> None:
    with pytest.raises(UnsafeExpressionError, match="unknown reference"):
        _eval("__local_refs['missing']")
