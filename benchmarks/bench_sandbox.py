"""Benchmark: what the kernel sandbox costs a ``monai-ext infer`` run, and which protections this machine has.

Run from the repository root::

    .venv/bin/python benchmarks/bench_sandbox.py             # 5 runs of each mode, interleaved
    .venv/bin/python benchmarks/bench_sandbox.py --runs 3

Each run is a whole ``python -m monai_ext.cli.main infer`` process on a 32x40x24 mask with the shipped
classifier (``--no-montage``), timed from start to exit, the modes interleaved (sandbox, ``--no-sandbox``,
sandbox, ...) so a busy machine slows both alike. The sandboxed run starts a second interpreter that applies
the sandbox before importing torch; its cost is mostly that interpreter's imports. Printed: the machine's
protections (kernel, Landlock ABI, user namespaces, seccomp), then median (min-max) seconds per mode and the
ratio of the medians.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.bundle.conftest import CLASSIFIER  # noqa: E402
from tests.sandbox.conftest import tiny_mask  # noqa: E402


def _run(source: Path, out: Path, *flags: str) -> tuple[float, dict]:
    command = [sys.executable, "-m", "monai_ext.cli.main", "infer", str(source), "--bundle", str(CLASSIFIER),
               "--out", str(out), "--no-montage", *flags]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=REPO)
    seconds = time.perf_counter() - start
    return seconds, json.loads((out / "result.json").read_text())


_APPLY = """
import time, tempfile, pathlib
start = time.perf_counter()
from monai_ext.sandbox import SandboxPolicy, apply_sandbox
apply_sandbox(SandboxPolicy(write_dirs=(pathlib.Path(tempfile.mkdtemp()),)))
print(time.perf_counter() - start)
"""


def _apply_seconds() -> float:
    """``apply_sandbox`` alone (import of monai_ext.sandbox included) in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", _APPLY], check=True, capture_output=True, text=True, cwd=REPO)
    return float(done.stdout.strip().splitlines()[-1])


def _import_seconds() -> float:
    """A fresh interpreter importing the CLI (torch, MONAI): what the sandboxed child pays again."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import monai_ext.cli.main"], check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        source = tiny_mask(root / "case.nii.gz")
        times: dict[str, list[float]] = {"sandbox": [], "--no-sandbox": []}
        protections: dict = {}
        _run(source, root / "warm", "--no-sandbox")  # warm the page cache
        for index in range(options.runs):
            seconds, result = _run(source, root / f"s{index}")
            times["sandbox"].append(seconds)
            protections = result["protections"]
            times["--no-sandbox"].append(_run(source, root / f"n{index}", "--no-sandbox")[0])
            times.setdefault("apply_sandbox() alone", []).append(_apply_seconds())
            times.setdefault("import the CLI", []).append(_import_seconds())
    print(f"kernel: {platform.system()} {platform.release()} ({platform.machine()}), "
          f"Landlock ABI: {protections['landlock_abi']}")  # fmt: skip
    for name, item in protections["items"].items():
        print(f"  {'active ' if item['active'] else 'MISSING'}  {name:24s} {item['detail']}")
    print(f"\n{'mode':22s} {'median s':>9s} {'min-max s':>13s}   ({options.runs} runs each, interleaved)")
    for mode, values in times.items():
        print(f"{mode:22s} {statistics.median(values):9.3f} {min(values):6.3f}-{max(values):<6.3f}")
    ratio = statistics.median(times["sandbox"]) / statistics.median(times["--no-sandbox"])
    extra = statistics.median(times["sandbox"]) - statistics.median(times["--no-sandbox"])
    print(f"sandbox / --no-sandbox median: {ratio:.2f} (+{extra:.2f} s)")


if __name__ == "__main__":
    main()
