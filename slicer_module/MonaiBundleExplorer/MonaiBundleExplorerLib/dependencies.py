"""Install what the worker needs into Slicer's Python on first Apply (never at import time)."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parents[1] / "Resources" / "requirements.txt"


def readRequirements(path: str | Path = REQUIREMENTS) -> list[str]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def distributionName(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;@]", requirement, maxsplit=1)[0]


def missingRequirements(requirements: list[str]) -> list[str]:
    """Requirements whose distribution is not installed at all (version checks are left to pip)."""
    missing = []
    for requirement in requirements:
        try:
            importlib.metadata.version(distributionName(requirement))
        except importlib.metadata.PackageNotFoundError:
            missing.append(requirement)
    return missing


def ensureDependencies(requester: str = "MonaiBundleExplorer", path: str | Path = REQUIREMENTS) -> bool:
    """True when the requirements are satisfied (after installing them if the user agreed)."""
    import slicer

    requirements = readRequirements(path)
    packaging = getattr(slicer, "packaging", None)
    if packaging is not None and hasattr(packaging, "pip_ensure"):  # Slicer 5.12+
        packaging.pip_ensure(requirements, requester=requester)
        return not missingRequirements(requirements)
    missing = missingRequirements(requirements)
    if not missing:
        return True
    question = f"{requester} needs these Python packages:\n\n" + "\n".join(missing) + "\n\nInstall them now?"
    if not slicer.util.confirmOkCancelDisplay(question):
        return False
    slicer.util.pip_install(missing)
    return not missingRequirements(requirements)
