"""The worker's own Python environment: Slicer's Python and its packages are never modified (stdlib only).

Design (see the module README): the worker runs in a Python >= 3.10 that is not Slicer's site-packages:

1. the Python the user chose in the module settings (any conda/CUDA environment with monai-ext installed), or
2. a venv the module creates on first use in the user's data folder, with ``--system-site-packages`` so that torch
   from the PyTorch extension (PyTorchUtils installs it into Slicer's Python) is reused rather than downloaded again;
   the project is installed into it from the extension's own copy (``locations.projectSource``), never by name from
   an index, and its dependencies (pydicom 3, MONAI, ...) land in the venv, where they shadow Slicer's packages
   (pydicom 2.4.4) for the worker only.

Before anything is installed, ``installPlan`` asks pip for what it would install (``--dry-run --report``) so the
confirmation can list packages and their download size; afterwards ``probeEnvironment`` runs ``envProbe.py`` in the
worker Python and checks the versions actually present against the installed project's own requirements.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from .. import locations
from .subprocessOptions import hiddenWindowOptions

PROBE_SCRIPT = Path(__file__).with_name("envProbe.py")
MINIMUM_PYTHON = (3, 10)
MARKER = "monai-bundle-explorer.json"  # in a venv the module created: how to start its Python


class WorkerEnvironmentError(RuntimeError):
    """A worker Python that cannot be used or prepared; the message says which one and why."""


@dataclass
class EnvironmentReport:
    python: str
    pythonVersion: str = ""
    projectVersion: str | None = None
    projectSource: str | None = None
    requirements: list = field(default_factory=list)
    problems: list = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        lines = [f"Worker Python: {self.python} (Python {self.pythonVersion or 'unknown'})"]
        if self.projectVersion:
            lines.append(f"monai-ext {self.projectVersion} from {self.projectSource or 'an unknown source'}")
        lines += [f"  {entry['requirement']}: {entry['installed'] or 'missing'}" for entry in self.requirements]
        lines += [f"Problem: {problem}" for problem in self.problems]
        return "\n".join(lines)


@dataclass
class PlannedPackage:
    name: str
    version: str
    url: str
    size: int | None  # bytes to download (or copy); None when unknown


@dataclass
class InstallPlan:
    packages: list

    @property
    def knownBytes(self) -> int:
        return sum(package.size or 0 for package in self.packages)

    @property
    def unknownSizes(self) -> int:
        return sum(package.size is None for package in self.packages)

    def describe(self) -> str:
        lines = [f"{package.name} {package.version} ({formatBytes(package.size)})" for package in self.packages]
        total = f"Total: {formatBytes(self.knownBytes)}"
        if self.unknownSizes:
            total += f" plus {self.unknownSizes} package(s) of unknown size"
        return "\n".join([*lines, total])


def formatBytes(size: int | None) -> str:
    if size is None:
        return "size unknown"
    for unit in ("B", "kB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000.0
    return f"{size:.2f} GB"


def launchEnvironment(python, base: dict | None = None) -> dict:
    """Environment for the worker Python: none of Slicer's PYTHONPATH/PYTHONHOME, no user site-packages.

    A venv created from Slicer's own Python records the PYTHONHOME it needs in its marker file.
    """
    env = dict(os.environ if base is None else base)
    for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONEXECUTABLE", "VIRTUAL_ENV"):
        env.pop(name, None)
    env["PYTHONNOUSERSITE"] = "1"
    marker = Path(python).resolve().parents[1] / MARKER if Path(python).exists() else None
    if marker is not None and marker.is_file():
        home = json.loads(marker.read_text(encoding="utf-8")).get("pythonHome")
        if home:
            env["PYTHONHOME"] = home
    return env


def _run(command: list, env: dict, timeout: float, what: str) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(
            [str(part) for part in command], capture_output=True, text=True, env=env, timeout=timeout,
            stdin=subprocess.DEVNULL, **hiddenWindowOptions(),
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WorkerEnvironmentError(f"{what} failed: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise WorkerEnvironmentError(f"{what} failed (exit code {done.returncode}):\n{tail}")
    return done


def probeEnvironment(python, expectedVersion: str | None = None, env: dict | None = None, timeout: float = 120):
    """Run ``envProbe.py`` in ``python`` and list every problem that would stop the worker."""
    report = EnvironmentReport(python=str(python))
    if not Path(python).is_file():
        report.problems.append(f"{python} does not exist")
        return report
    done = _run([python, PROBE_SCRIPT], env or launchEnvironment(python), timeout, f"Checking {python}")
    try:
        found = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise WorkerEnvironmentError(f"{python} printed no environment report: {done.stdout[-500:]!r}") from exc
    report.pythonVersion = str(found.get("python", ""))
    version = tuple(int(part) for part in report.pythonVersion.split(".")[:2] if part.isdigit())
    if version < MINIMUM_PYTHON:
        report.problems.append(f"Python {report.pythonVersion} is too old: the worker needs Python >= 3.10")
    project = found.get("project")
    if project is None:
        report.problems.append("monai-ext is not installed in this Python")
        return report
    report.projectVersion, report.projectSource = project.get("version"), project.get("source")
    report.requirements = list(project.get("requirements") or [])
    if expectedVersion and report.projectVersion != expectedVersion:
        report.problems.append(
            f"monai-ext {report.projectVersion} is installed; this extension ships {expectedVersion}"
        )
    for entry in report.requirements:
        if entry.get("ok") is False:
            installed = entry.get("installed")
            state = f"{installed} is installed" if installed else "it is not installed"
            report.problems.append(f"monai-ext needs {entry['requirement']}, but {state}")
    return report


def createVenv(basePython, folder, env: dict | None = None, timeout: float = 300) -> Path:
    """``basePython -m venv --system-site-packages folder``; returns the new interpreter. Refuses Python < 3.10."""
    folder = Path(folder)
    env = dict(os.environ if env is None else env)
    _run([basePython, "-m", "venv", "--system-site-packages", folder], env, timeout, f"Creating a venv in {folder}")
    python = locations.venvPython(folder)
    if not python.exists():
        raise WorkerEnvironmentError(f"{basePython} -m venv created no interpreter at {python}")
    home = env.get("PYTHONHOME")  # set when the base is Slicer's Python (its launcher sets it)
    (folder / MARKER).write_text(json.dumps({"basePython": str(basePython), "pythonHome": home}), encoding="utf-8")
    return python


def installPlan(python, projectDir, extraPipArgs=(), timeout: float = 600) -> InstallPlan:
    """What ``pip install <projectDir>`` would install into ``python``'s environment, with download sizes."""
    with tempfile.TemporaryDirectory(prefix="MonaiBundleExplorer-plan-") as folder:
        reportPath = Path(folder) / "report.json"
        command = [python, "-m", "pip", "install", "--dry-run", "--quiet", "--disable-pip-version-check",
                   "--report", reportPath, *extraPipArgs, projectDir]  # fmt: skip
        _run(command, launchEnvironment(python), timeout, f"Planning the installation into {python}")
        report = json.loads(reportPath.read_text(encoding="utf-8"))
    packages = []
    for item in report.get("install", []):
        metadata, url = item.get("metadata", {}), item.get("download_info", {}).get("url", "")
        packages.append(PlannedPackage(metadata.get("name", "?"), metadata.get("version", "?"), url, downloadSize(url)))
    return InstallPlan(packages)


def install(python, projectDir, extraPipArgs=(), timeout: float = 3600) -> str:
    """``pip install <projectDir>`` (the extension's copy, not an index name) into ``python``; returns pip's log."""
    command = [python, "-m", "pip", "install", "--disable-pip-version-check", *extraPipArgs, projectDir]
    return _run(command, launchEnvironment(python), timeout, f"Installing {projectDir} into {python}").stdout


def downloadSize(url: str, timeout: float = 10.0) -> int | None:
    """Bytes behind a pip download URL: local files and folders are measured, remote ones asked (HEAD)."""
    if url.startswith("file://"):
        path = Path(urllib.request.url2pathname(url[len("file://") :]))
        if path.is_file():
            return path.stat().st_size
        if path.is_dir():
            return folderSize(path)
        return None
    if not url.startswith(("https://", "http://")):
        return None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            return int(length) if length else None
    except (OSError, ValueError):
        return None


def folderSize(folder: Path) -> int:
    """Bytes of a source folder pip would copy: hidden folders (.git, .venv*) and caches are left out."""
    total = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = [name for name in dirs if not name.startswith(".") and name != "__pycache__"]
        total += sum(os.path.getsize(os.path.join(root, name)) for name in files)
    return total


def pythonVersionOf(python, env: dict | None = None) -> tuple:
    """``(major, minor)`` of an interpreter (runs it once)."""
    done = _run([python, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
                env or dict(os.environ), 60, f"Running {python}")  # fmt: skip
    major, minor = done.stdout.split()[:2]
    return int(major), int(minor)


def currentPythonVersion() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"
