"""``monai-ext infer`` on the shipped classifier: sandboxed by default, and the protections land in result.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monai_ext.cli.main import main
from monai_ext.sandbox import apply, run_sandboxed
from monai_ext.sandbox.protections import PROTECTION_NAMES
from tests.bundle.conftest import CLASSIFIER

from .conftest import landlock_abi, linux_only, tiny_mask


def _tree(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*"))


@linux_only
def test_infer_runs_sandboxed_and_records_the_protections(tmp_path: Path) -> None:
    source, out = tiny_mask(tmp_path / "case.nii.gz"), tmp_path / "out"
    temp_root = tmp_path / "tmp"  # its own TMPDIR: other runs on this machine share the system temp folder
    temp_root.mkdir()
    before = _tree(tmp_path)
    command = [sys.executable, "-m", "monai_ext.cli.main", "infer", str(source), "--bundle", str(CLASSIFIER),
               "--out", str(out), "--no-montage"]  # fmt: skip
    env = os.environ | {"TMPDIR": str(temp_root)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert "predicted:" in done.stdout and "sandbox:" in done.stderr
    result = json.loads((out / "result.json").read_text())
    assert sum(result["probabilities"]) == pytest.approx(1.0)
    protections = result["protections"]
    assert protections["sandboxed"] is True and set(protections["items"]) == set(PROTECTION_NAMES)
    abi = landlock_abi()
    assert protections["landlock_abi"] == abi
    assert protections["items"]["landlock_filesystem"]["active"] is (abi is not None)
    assert protections["items"]["landlock_network"]["active"] is (abi is not None and abi >= 4)
    assert protections["items"]["resource_limits"]["active"] is True
    for name, item in protections["items"].items():
        assert item["detail"], name  # active: what it enforces; inactive: why not
    assert [p for p in _tree(tmp_path) if out not in p.parents and p != out] == before
    assert list(temp_root.iterdir()) == []  # the private temp (monai-ext-sandbox-*) is removed


def test_no_sandbox_is_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, out = tiny_mask(tmp_path / "case.nii.gz"), tmp_path / "out"
    args = ["infer", str(source), "--bundle", str(CLASSIFIER), "--out", str(out), "--no-montage", "--no-sandbox"]
    assert main(args) == 0
    protections = json.loads((out / "result.json").read_text())["protections"]
    assert protections["sandboxed"] is False and protections["active"] == []
    assert all("--no-sandbox" in item["detail"] for item in protections["items"].values())
    assert "no protection is active" in capsys.readouterr().err
    assert "--no-sandbox" not in apply.current_protections().get("seccomp").detail  # the record is restored


@pytest.mark.parametrize(("platform", "name"), [("darwin", "macOS"), ("win32", "Windows")])
def test_other_platforms_say_no_protection_is_available(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str, name: str
) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    report = tmp_path / "protections.json"
    from monai_ext.sandbox import SandboxPolicy

    assert run_sandboxed("tests.sandbox.hooks:report_protections", {"path": str(report)},
                         SandboxPolicy(write_dirs=(tmp_path,))) == 0  # fmt: skip
    protections = json.loads(report.read_text())
    assert protections["active"] == [] and protections["sandboxed"] is False
    assert all(f"not Linux ({name})" in item["detail"] for item in protections["items"].values())
    assert apply.apply_sandbox(SandboxPolicy(write_dirs=(tmp_path,))).active_names() == []  # returns early, no-op
