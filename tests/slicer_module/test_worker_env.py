"""The worker's own environment, for real: probes of real interpreters, a venv created, the project installed.

Offline: the venv is created from this Python's base interpreter and monai-ext is installed into it from the
checkout (the extension's copy in a build tree) with ``--no-deps --no-index``; its requirements are then missing,
which the version check must report.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from MonaiBundleExplorerLib import locations
from MonaiBundleExplorerLib.workerProcess import workerEnv

from .conftest import REPO

PYTHON39 = shutil.which("python3.9") and Path(os.path.expanduser("~/.pyenv/versions/3.9.18/bin/python3.9"))
OFFLINE = ["--no-deps", "--no-index", "--no-build-isolation"]


def base_python() -> Path:
    return Path(getattr(sys, "_base_executable", sys.executable))


def test_the_project_venv_is_ready():
    """This test's own Python (the project's venv) has monai-ext and every requirement: ready."""
    report = workerEnv.probeEnvironment(sys.executable, expectedVersion=locations.projectVersion(REPO))
    assert report.ready, report.summary()
    assert report.projectVersion == "0.1.0" and report.projectSource.startswith("file://")
    names = {entry["name"] for entry in report.requirements}
    assert {"torch", "monai", "pydicom", "nibabel"} <= names
    pydicom = next(entry for entry in report.requirements if entry["name"] == "pydicom")
    assert pydicom["installed"].startswith("3.") and pydicom["ok"] is True


def test_a_python_without_the_project_is_not_ready():
    report = workerEnv.probeEnvironment(base_python())
    assert not report.ready and report.problems == ["monai-ext is not installed in this Python"]


def test_a_version_other_than_the_shipped_copy_is_reported():
    report = workerEnv.probeEnvironment(sys.executable, expectedVersion="9.9.9")
    assert any("this extension ships 9.9.9" in problem for problem in report.problems)


@pytest.mark.skipif(not (PYTHON39 and PYTHON39.exists()), reason="no Python 3.9 interpreter here (pyenv 3.9.18)")
def test_slicer_58s_python_is_too_old_for_the_worker():
    report = workerEnv.probeEnvironment(PYTHON39)
    assert report.pythonVersion.startswith("3.9")
    assert report.problems[0].startswith("Python 3.9") and "3.10" in report.problems[0]


def test_a_missing_interpreter_is_named(tmp_path):
    report = workerEnv.probeEnvironment(tmp_path / "no-python")
    assert report.problems == [f"{tmp_path / 'no-python'} does not exist"]


def test_launch_environment_drops_slicers_python_paths(tmp_path):
    base = {"PYTHONPATH": "/slicer/lib/site-packages", "PYTHONHOME": "/slicer/lib/Python", "PATH": "/usr/bin"}
    env = workerEnv.launchEnvironment(sys.executable, base)
    assert "PYTHONPATH" not in env and "PYTHONHOME" not in env and env["PYTHONNOUSERSITE"] == "1"
    assert env["PATH"] == "/usr/bin"


def test_plan_sizes_and_formatting(tmp_path):
    wheel = tmp_path / "x-1.0-py3-none-any.whl"
    wheel.write_bytes(b"\0" * 2500)
    assert workerEnv.downloadSize(wheel.as_uri()) == 2500
    assert workerEnv.downloadSize("ftp://example.invalid/x") is None
    plan = workerEnv.InstallPlan([
        workerEnv.PlannedPackage("x", "1.0", wheel.as_uri(), 2500),
        workerEnv.PlannedPackage("y", "2.0", "https://files.example/y.whl", None),
    ])  # fmt: skip
    assert plan.describe().splitlines() == [
        "x 1.0 (2.5 kB)", "y 2.0 (size unknown)", "Total: 2.5 kB plus 1 package(s) of unknown size"
    ]  # fmt: skip
    assert workerEnv.formatBytes(3_400_000_000) == "3.40 GB"


def project_copy(folder: Path) -> Path:
    """What the extension's CMake installs as Resources/monai-ext: pyproject.toml, README.md and monai_ext/."""
    folder.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, folder / name)
    shutil.copytree(REPO / "monai_ext", folder / "monai_ext", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


@pytest.mark.slow
def test_create_plan_install_and_check_a_worker_venv(tmp_path):
    """Venv, plan, install, check. The base Python here has a setuptools without bdist_wheel and no index is
    reachable, so the copy is first built into a wheel by this venv's pip (in Slicer, pip builds the copy itself)."""
    import subprocess

    copy = project_copy(tmp_path / "monai-ext")
    assert locations.projectVersion(copy) == "0.1.0"
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp_path, copy]
    subprocess.run([str(part) for part in build], check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("monai_ext-0.1.0-*.whl"))
    folder = tmp_path / "worker-env"
    python = workerEnv.createVenv(base_python(), folder, env={"PATH": os.environ.get("PATH", "")})
    assert python == locations.venvPython(folder) and (folder / workerEnv.MARKER).is_file()
    plan = workerEnv.installPlan(python, wheel, extraPipArgs=OFFLINE)
    assert [(package.name, package.version) for package in plan.packages] == [("monai-ext", "0.1.0")]
    assert plan.packages[0].size == wheel.stat().st_size and "monai-ext 0.1.0" in plan.describe()
    assert workerEnv.probeEnvironment(python).problems == ["monai-ext is not installed in this Python"]  # dry run
    workerEnv.install(python, wheel, extraPipArgs=OFFLINE)
    report = workerEnv.probeEnvironment(python, expectedVersion="0.1.0")
    assert report.projectVersion == "0.1.0" and report.projectSource == wheel.as_uri()
    assert not report.ready
    assert "monai-ext needs torch>=2.8, but it is not installed" in report.problems
    assert any(problem.startswith("monai-ext needs pydicom") for problem in report.problems)
    with pytest.raises(workerEnv.WorkerEnvironmentError, match="Installing"):
        workerEnv.install(python, tmp_path / "not-a-project", extraPipArgs=OFFLINE)


def test_the_folder_size_skips_hidden_folders_and_caches(tmp_path):
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "big").write_bytes(b"\0" * 5000)
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pkg" / "__pycache__" / "m.pyc").write_bytes(b"\0" * 700)
    (tmp_path / "pkg" / "m.py").write_bytes(b"\0" * 300)
    assert workerEnv.downloadSize(tmp_path.as_uri()) == 300


def test_torch_range_of_the_setup_dialog_is_the_projects():
    from MonaiBundleExplorerLib.workerProcess import workerSetup

    assert f'"torch{workerSetup.TORCH_REQUIREMENT}"' in (REPO / "pyproject.toml").read_text()
