"""Where the module finds its shipped bundles, the project copy it installs, and its settings (stdlib only).

The same code runs from three layouts:

- a source checkout (``<repo>/slicer_module/MonaiBundleExplorer/MonaiBundleExplorer.py``): bundles in
  ``<repo>/bundles``, the project in ``<repo>``;
- a Slicer build or install tree (``.../qt-scripted-modules/MonaiBundleExplorer.py``): the extension's CMake copies
  the bundles to ``Resources/Bundles`` and the project to ``Resources/monai-ext`` beside the module script.

Settings are read from any QSettings-like object (``value(key, default)`` / ``setValue(key, value)``), so the logic
stays GUI-free; inside Slicer that is ``qt.QSettings()``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

MODULE_DIR = Path(__file__).resolve().parents[1]
PROJECT_NAME = "monai-ext"

# Module settings (Application settings, key -> meaning).
USER_BUNDLE_FOLDER = "MonaiBundleExplorer/UserBundleFolder"  # a folder of the user's own bundles
WORKER_PYTHON = "MonaiBundleExplorer/WorkerPython"  # a Python >= 3.10 the user chose (conda, CUDA env, ...)
WORKER_ENV_FOLDER = "MonaiBundleExplorer/WorkerEnvironmentFolder"  # where the module creates its own venv


def isSetPath(path) -> bool:
    """True for a real path; ``None``, ``""`` and ``Path('.')`` (an unset ``pathlib.Path`` parameter) are unset."""
    return path is not None and str(path).strip() not in ("", ".")


def shippedBundleRoots(moduleDir: Path = MODULE_DIR) -> list[Path]:
    """Folders holding the bundles shipped with the extension (build/install tree first, then a checkout)."""
    candidates = [moduleDir / "Resources" / "Bundles", moduleDir.parents[1] / "bundles"]
    return [path for path in candidates if path.is_dir()]


def projectSource(moduleDir: Path = MODULE_DIR) -> Path | None:
    """The extension's own copy of the project (a folder with pyproject.toml naming monai-ext), or ``None``."""
    for candidate in (moduleDir / "Resources" / PROJECT_NAME, moduleDir.parents[1]):
        if projectVersion(candidate) is not None:
            return candidate
    return None


def projectVersion(folder: Path) -> str | None:
    """``version`` of ``[project]`` in ``folder/pyproject.toml`` when it names monai-ext (no tomllib on 3.9)."""
    try:
        text = (Path(folder) / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    project = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    if project is None or not re.search(rf'^name\s*=\s*"{PROJECT_NAME}"', project.group(1), re.M):
        return None
    version = re.search(r'^version\s*=\s*"([^"]+)"', project.group(1), re.M)
    return version.group(1) if version else None


def readPathSetting(settings, key: str) -> Path | None:
    value = settings.value(key, "") if settings is not None else ""
    return Path(str(value)) if isSetPath(value) else None


def writePathSetting(settings, key: str, path) -> None:
    settings.setValue(key, str(path) if isSetPath(path) else "")


def defaultWorkerEnvFolder(userDataDir, pythonVersion: str) -> Path:
    """``<user data>/MonaiBundleExplorer/worker-py3.X``: one environment per base Python minor version."""
    major, minor = pythonVersion.split(".")[:2]
    return Path(userDataDir) / "MonaiBundleExplorer" / f"worker-py{major}.{minor}"


def venvPython(envFolder) -> Path:
    """The interpreter of a venv folder (``Scripts/python.exe`` on Windows, ``bin/python`` elsewhere)."""
    folder = Path(envFolder)
    return folder / "Scripts" / "python.exe" if os.name == "nt" else folder / "bin" / "python"
