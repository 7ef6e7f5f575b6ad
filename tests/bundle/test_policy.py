"""The allow-list is reviewed against the installed MONAI: every constructor argument is admitted or refused."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import torch

from monai_ext.bundle.policy import ArgRule, load_policy
from monai_ext.bundle.policy.kinds import check_value
from monai_ext.bundle.untrusted.safe_expr import UnsafeExpressionError

POLICY = load_policy()


def _constructor_args(cls: type) -> set[str]:
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]  # drop self
    return {p.name for p in params if p.kind is not inspect.Parameter.VAR_POSITIONAL}


@pytest.mark.parametrize("path", sorted(POLICY.classes))
def test_every_constructor_argument_is_reviewed(path: str) -> None:
    """Fails when an upgrade adds an argument (re-review it) or removes an admitted one."""
    entry = POLICY.classes[path]
    actual = _constructor_args(entry.cls)
    reviewed = set(entry.args) | set(entry.refused)
    assert not actual - reviewed, f"{path}: new constructor arguments to review: {sorted(actual - reviewed)}"
    assert not reviewed - actual, f"{path}: reviewed arguments that no longer exist: {sorted(reviewed - actual)}"
    assert entry.review, f"{path} has no review note"


RISKY_WORDS = {
    "path",
    "url",
    "uri",
    "file",
    "filename",
    "dir",
    "directory",
    "ckpt",
    "checkpoint",
    "weights",
    "pretrained",
    "download",
    "func",
    "fn",
    "callable",
    "module",
    "class",
    "cls",
    "logger",
    "handler",
}
NOT_RISKY = {"dropout_path_rate": "stochastic-depth rate (a number), not a file path"}


def test_risky_argument_names_are_never_admitted() -> None:
    for entry in POLICY.classes.values():
        for name in entry.args:
            words = set(name.lower().split("_"))
            assert name in NOT_RISKY or not words & RISKY_WORDS, f"{entry.path} admits {name}"


def test_counts_and_roles() -> None:
    roles = [e.role for e in POLICY.classes.values()]
    assert roles.count("network") >= 20 and roles.count("transform") >= 40 and roles.count("inferer") == 2
    for name in ("LoadImaged", "SaveImaged", "SaveClassificationd", "Lambdad", "DataLoader", "Hovernet"):
        assert POLICY.lookup(name) is None, name


def test_spellings_resolve_to_one_entry() -> None:
    entry = POLICY.lookup("Resized", role="transform")
    assert entry is not None and entry.path == "monai.transforms.Resized"
    assert POLICY.lookup(entry.defining_path) is entry
    assert POLICY.lookup("Resized", role="network") is None
    assert POLICY.lookup("Classifier") is None  # MONAI's short name means monai.networks.nets.Classifier


def _rule(kind: str, **bounds: Any) -> ArgRule:
    return ArgRule("x", kind, bounds.get("minimum"), bounds.get("maximum"), tuple(bounds.get("values", ())))


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("size", [64, 64, 64]),
        ("size", [-1, 96, 96]),
        ("size", 96),
        ("spacing", [1.5, 1.5, 2.0]),
        ("keys", ["image", "pred_meta_dict"]),
        ("dtype", "float32"),
        ("dtype", torch.float16),
        ("device", torch.device("cpu")),
        ("layer", "batch"),
        ("layer", ["LeakyReLU", {"negative_slope": 0.1, "inplace": True}]),
        ("ints", [[3, 3, 3], [3, 3, 1]]),
        ("data", {"name": "conv_0", "n_features": 16}),
        ("flag", True),
    ],
)
def test_kinds_admit_legitimate_values(kind: str, value: Any) -> None:
    check_value(_rule(kind), value, POLICY)


@pytest.mark.parametrize(
    ("kind", "value", "reason"),
    [
        ("size", [1400, 1400, 1400], "voxels"),
        ("size", [4096, 1, 1], "outside"),
        ("size", [1024, 1024, 1024], "voxels"),
        ("size", 1024, "voxels"),
        ("spacing", [0.0001, 1, 1], "outside"),
        ("keys", "../x", "not a valid key"),
        ("keys", "/etc/passwd", "not a valid key"),
        ("keys", "a\x00b", "not a valid key"),
        ("dtype", "object", "not a numeric dtype"),
        ("device", "meta", "not a CPU or CUDA device"),
        ("layer", "os.system", "not a MONAI layer name"),
        ("layer", ["relu", {"x": object()}], "plain data"),
        ("transform", torch.nn.Linear(1, 1), "not a transform this policy admits"),
        ("data", {"a": torch.nn.Linear(1, 1)}, "plain data"),
        ("int", 2**40, "outside"),
        ("flag", "yes", "true or false"),
        ("number", float("nan"), "not finite"),
        ("ints", [[[[1]]]], "nested"),
    ],
)
def test_kinds_refuse_hostile_values(kind: str, value: Any, reason: str) -> None:
    with pytest.raises(UnsafeExpressionError, match=reason):
        check_value(_rule(kind), value, POLICY)
