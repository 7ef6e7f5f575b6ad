"""The data-only expression subset: what evaluates, and what is refused before anything runs."""

from __future__ import annotations

import pytest
import torch

from monai_ext.bundle.untrusted.safe_expr import (
    ExpressionContext,
    ExpressionLimitError,
    ExpressionValueError,
    UnsafeExpressionError,
    check_expression,
    evaluate_expression,
)


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
        ("len(__local_refs['xs'])", {"xs": [4, 5, 6]}, 3),
        ("[int(round(max(1.4, min(__local_refs['xs'])) * 2))]", {"xs": [4, 5]}, [8]),
        ("abs(-2) + float('1.5')", {}, 3.5),
        ("range(2, 8, 3)", {}, [2, 5]),
        ("monai.utils.CommonKeys.IMAGE", {}, "image"),
        ("monai.utils.enums.CommonKeys.PRED", {}, "pred"),
        ("monai.utils.InterpolateMode.TRILINEAR", {}, "trilinear"),
        ("torch.float32", {}, torch.float32),
        ("'%s_%03d' % ('case', 7)", {}, "case_007"),
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
        ("print(1)", "function call (print)"),
        ("len.__self__", "attribute access"),
        ("monai.utils.CommonKeys.__class__", "attribute access"),
        ("monai.utils.set_determinism(0)", "function call"),
        ("torch.cuda.is_available(1)", "takes no arguments"),
        ("max(*[1, 2])", "keyword or \\* arguments"),
        ("int(x='1')", "keyword"),
        ("torch.load('/etc/passwd')", "function call"),
        ("f'{1}'", "JoinedStr"),
        ("1 + " * 3000 + "1", "characters"),
    ],
)
def test_code_is_refused_before_running(text: str, reason: str) -> None:
    with pytest.raises(UnsafeExpressionError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        check_expression(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("'a' * 1000000000", "longer than"),
        ("'%01000000000d' % 0", "'%' formatting would give"),
        ("'%*d' % (1000000000, 0)", "'\\*' widths"),
        ("'%s' % [[0] * 100000] * 1", "collection"),
        ("[[0] * 100000] * 100000", "more than 1000000 items"),
        ("[0] * 100000 + [0] * 100000", "concatenation"),
        ("range(10 * 10 * 10 * 10 * 10 * 10 * 10 * 10 * 10 * 10 * 10 * 10)", "range()"),
        ("round(1, -1000000000)", "round()"),
        ("int(1e308) * int(1e308)", "bits"),
        ("__local_refs['big'] * __local_refs['big']", "bits"),
    ],
)
def test_values_are_capped_before_they_are_allocated(text: str, reason: str) -> None:
    with pytest.raises(ExpressionLimitError, match=reason):
        _eval(text, big=int("7" * 400))


@pytest.mark.parametrize(
    ("text", "reason"),
    [("1 / 0", "ZeroDivisionError"), ("int('six')", "ValueError"), ("[1][5]", "IndexError"), ("1 + 'a'", "TypeError")],
)
def test_failures_are_typed(text: str, reason: str) -> None:
    with pytest.raises(ExpressionValueError, match=reason):
        _eval(text)


@pytest.mark.parametrize(
    "text",
    [
        "torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')",
        "torch.device('cuda')",
        "torch.device('meta')",
        "monai_ext.engines.default_device()",
    ],
)
def test_every_device_choice_is_the_runners_device(text: str) -> None:
    for device in (torch.device("cpu"), torch.device("cuda")):
        assert evaluate_expression(check_expression(text), {}, ExpressionContext(device=device)) == device
    cuda = evaluate_expression(
        check_expression("torch.cuda.is_available()"), {}, ExpressionContext(torch.device("cuda"))
    )
    assert cuda is True


def test_unknown_reference_is_an_error() -> None:
    with pytest.raises(UnsafeExpressionError, match="unknown reference"):
        _eval("__local_refs['missing']")
