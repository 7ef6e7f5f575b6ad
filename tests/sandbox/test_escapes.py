"""A misbehaving network the allow-list let through, inside the real sandboxed ``monai-ext infer`` child.

The run goes on (the escapes raise and the hook swallows them) and every escape is blocked by at least one
active protection; an escape whose protections this kernel lacks is skipped with their reasons.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from monai_ext.cli.infer import sandbox_policy
from monai_ext.cli.main import build_parser
from monai_ext.sandbox import run_sandboxed
from tests.bundle.conftest import CLASSIFIER

from .conftest import Listener, linux_only, tiny_mask

pytestmark = linux_only

BLOCKED_BY = {
    "write_outside": ("landlock_filesystem",),
    "read_secret": ("landlock_filesystem",),
    "connect_tcp": ("landlock_network", "seccomp", "user_network_namespace"),
    "send_udp": ("seccomp", "user_network_namespace"),
    "spawn": ("seccomp", "landlock_filesystem"),
    "fork": ("seccomp",),
    "signal_outside": ("landlock_scope",),
}


@pytest.fixture(scope="module")
def leaky_run(tmp_path_factory: pytest.TempPathFactory, listener: Listener) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("leaky")
    (root / "private").mkdir()
    (root / "private" / "secret.txt").write_text("TOPSECRET")
    source, out = tiny_mask(root / "case.nii.gz"), root / "out"
    args = build_parser().parse_args(["infer", str(source), "--bundle", str(CLASSIFIER), "--out", str(out),
                                      "--no-montage"])  # fmt: skip
    probe = {"outside": str(root / "escaped.txt"), "secret": str(root / "private" / "secret.txt"),
             "spawn_marker": str(root / "spawned.txt"), "port": listener.port, "outside_pid": os.getpid(),
             "out": str(out)}  # fmt: skip
    arguments = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "handler"}
    before = sorted(p.relative_to(root) for p in root.rglob("*") if out not in p.parents and p != out)
    code = run_sandboxed("tests.sandbox.hooks:leaky_infer", arguments | {"probe": probe}, sandbox_policy(args))
    after = sorted(p.relative_to(root) for p in root.rglob("*") if out not in p.parents and p != out)
    attempts = out / "attempts.json"
    assert attempts.is_file(), f"the escape hook never ran in the sandboxed child (exit code {code})"
    report = json.loads(attempts.read_text())
    return {"code": code, "root": root, "out": out, "before": before, "after": after, **report}


def test_the_bundle_still_runs_and_records_its_protections(leaky_run: dict[str, Any]) -> None:
    assert leaky_run["code"] == 0
    result = json.loads((leaky_run["out"] / "result.json").read_text())
    assert sum(result["probabilities"]) == pytest.approx(1.0)
    assert result["protections"]["sandboxed"] is True
    assert result["protections"]["active"] == leaky_run["protections"]["active"]
    assert leaky_run["attempts"]["write_output"] == "allowed"


@pytest.mark.parametrize("attempt", sorted(BLOCKED_BY))
def test_escape_is_blocked(leaky_run: dict[str, Any], listener: Listener, attempt: str) -> None:
    items = leaky_run["protections"]["items"]
    if not any(items[name]["active"] for name in BLOCKED_BY[attempt]):
        pytest.skip("; ".join(f"{name}: {items[name]['detail']}" for name in BLOCKED_BY[attempt]))
    outcome = leaky_run["attempts"][attempt]
    assert outcome.startswith("blocked: PermissionError"), outcome
    if attempt == "connect_tcp":
        assert listener.accepted() == 0
    assert leaky_run["after"] == leaky_run["before"]  # nothing new outside the output folder: no escaped.txt,
    assert not (leaky_run["root"] / "spawned.txt").exists()  # no file from a spawned process
