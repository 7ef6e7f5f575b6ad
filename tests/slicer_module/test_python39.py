"""Slicer 5.8 runs the module with Python 3.9.10: no 3.10+ construct in slicer_module/ (vermin, and a real 3.9).

Code that only ever runs in the worker's own Python (>= 3.10, see ``workerEnv``) may use newer constructs; it is
listed in ``WORKER_ONLY`` (nothing is, today: worker.py also runs under PythonSlicer for the self-test).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXTENSION_DIR, MODULE_DIR

VERMIN = shutil.which("vermin") or str(Path(sys.executable).with_name("vermin"))
TARGET = "3.9"
WORKER_ONLY: set[str] = set()  # paths relative to slicer_module/ that run only in the worker's Python >= 3.10
PYTHON39 = Path(os.path.expanduser("~/.pyenv/versions/3.9.18/bin/python3.9"))

pytestmark = pytest.mark.skipif(not Path(VERMIN).exists(), reason="vermin is not installed (dev extra)")


def slicer_side_files() -> list[Path]:
    files = sorted(EXTENSION_DIR.rglob("*.py"))
    return [path for path in files if path.relative_to(EXTENSION_DIR).as_posix() not in WORKER_ONLY]


def vermin(paths) -> subprocess.CompletedProcess:
    command = [VERMIN, f"--target={TARGET}-", "--violations", "--no-tips", "--no-parse-comments", *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_slicer_side_code_needs_at_most_python_39():
    files = slicer_side_files()
    assert len(files) >= 20 and MODULE_DIR / "MonaiBundleExplorer.py" in files
    done = vermin(files)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("source", "feature"),
    [
        ("pairs = list(zip([1], [2], strict=False))\n", "zip(strict)"),
        ("def f(x):\n    match x:\n        case 1:\n            return 2\n", "pattern matching"),
        ("import itertools\npairs = list(itertools.pairwise([1, 2, 3]))\n", "itertools.pairwise"),
    ],
)
def test_the_checker_catches_a_310_construct(tmp_path, source, feature):
    path = tmp_path / "new_syntax.py"
    path.write_text(source)
    done = vermin([path])
    assert done.returncode != 0 and feature in done.stdout and "3.10" in done.stdout


@pytest.mark.skipif(not PYTHON39.exists(), reason=f"no Python 3.9 interpreter at {PYTHON39}")
def test_stdlib_only_helpers_import_and_run_in_a_real_python_39():
    """Beyond syntax: module-level code runs on 3.9 (dataclasses, annotations) and the helpers work."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from MonaiBundleExplorerLib import bundleInfo, locations, results\n"
        "from MonaiBundleExplorerLib.workerProcess import envProbe, process, worker, workerEnv\n"
        "assert results.probabilityRows({'probabilities': [0.25, 0.75], 'classNames': ['a']}) == "
        "[('a', 0.25), ('class 1', 0.75)]\n"
        "assert not locations.isSetPath('.') and workerEnv.formatBytes(1500) == '1.5 kB'\n"
        "print(sys.version_info[:2])\n"
    )
    done = subprocess.run([str(PYTHON39), "-c", code, str(MODULE_DIR)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(3, 9)"
