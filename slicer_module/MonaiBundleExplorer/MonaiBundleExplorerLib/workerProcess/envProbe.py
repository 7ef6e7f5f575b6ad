"""Run inside a candidate worker Python: print one JSON line describing what is actually installed there.

Usage: ``<python> envProbe.py`` (stdlib only; must parse and run on any Python 3, so a wrong interpreter the user
points to is reported plainly). Prints ``{"python": "3.12.10", "executable": ..., "project": {...} | null}`` where
``project`` holds the installed monai-ext's version, where it was installed from (PEP 610 ``direct_url.json``), and
each of its requirements (extras excluded) with the version present and whether it satisfies the requirement.
"""

from __future__ import annotations

import json
import platform
import sys

PROJECT = "monai-ext"


def _specifierClasses():
    """``packaging``'s Requirement and Version (standalone, or the copy vendored in pip), or ``(None, None)``."""
    for prefix in ("packaging", "pip._vendor.packaging"):
        try:
            requirements = __import__(prefix + ".requirements", fromlist=["Requirement"])
            version = __import__(prefix + ".version", fromlist=["Version"])
            return requirements.Requirement, version.Version
        except ImportError:
            continue
    return None, None


def describeRequirement(text, metadata, Requirement, Version):
    """One requirement string -> ``{"requirement", "name", "installed", "ok"}`` (``ok`` None when unknown)."""
    entry = {"requirement": text, "name": text, "installed": None, "ok": None}
    if Requirement is None:
        return entry
    requirement = Requirement(text)
    if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
        return None  # an optional extra or another platform's dependency
    entry["name"] = requirement.name
    try:
        entry["installed"] = metadata.version(requirement.name)
    except metadata.PackageNotFoundError:
        entry["ok"] = False
        return entry
    entry["ok"] = requirement.specifier.contains(Version(entry["installed"]), prereleases=True)
    return entry


def probe():
    report = {"python": platform.python_version(), "executable": sys.executable, "project": None}
    try:
        from importlib import metadata
    except ImportError:  # Python < 3.8: too old anyway, the caller reports the version
        return report
    try:
        distribution = metadata.distribution(PROJECT)
    except metadata.PackageNotFoundError:
        return report
    Requirement, Version = _specifierClasses()
    entries = [describeRequirement(text, metadata, Requirement, Version) for text in distribution.requires or []]
    directUrl = distribution.read_text("direct_url.json")
    report["project"] = {
        "version": distribution.version,
        "source": json.loads(directUrl).get("url") if directUrl else None,
        "requirements": [entry for entry in entries if entry is not None],
    }
    return report


if __name__ == "__main__":
    sys.stdout.write(json.dumps(probe()) + "\n")
