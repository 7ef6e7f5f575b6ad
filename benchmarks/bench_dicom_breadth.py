"""Benchmark: ``monai-ext dicom convert`` against dcm2niix on the scanner-breadth series, side by side.

Run from the repository root::

    .venv/bin/python benchmarks/bench_dicom_breadth.py               # 5 runs per cell
    .venv/bin/python benchmarks/bench_dicom_breadth.py --runs 3 --case mr-ge-dwi-repeated-positions

Data: ``<data>/dicom-breadth/<case>/dicom`` (``--data``, default ``<repo>/../shared/data``): a Siemens mosaic
fMRI and GE, Canon and Philips diffusion series (dcm_qa_*, BSD-2).

Each cell is a fresh process, as a user runs the command, writing ``.nii.gz`` (both tools compress):

* ours: ``python -m monai_ext.cli.main dicom convert FOLDER OUT.nii.gz`` (imports included: that is the
  start-up the issue measured);
* dcm2niix: ``dcm2niix -z y -b y -o OUTDIR FOLDER``.

Measured per cell (GNU ``/usr/bin/time`` around each process): the median (min-max) wall time of ``--runs`` runs,
the median CPU time (user + system: less sensitive than wall time to other work on a shared machine) and the
median peak RSS. The table also compares the two outputs (after the last run): shape up to axis
order, the largest voxel-size difference, the distance between the volume centres, the smallest per-volume
voxel correlation, and whether b-values and diffusion directions (as world-space axes) agree.
Also printed: the start-up of ``monai-ext dicom convert`` on an empty folder (every import, then the "no series"
error; median of ``--runs``; target < 1 s).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.io.dcm2niix_reference import compare_with_dcm2niix  # noqa: E402

CASES = (
    "mr-siemens-mosaic-fmri",
    "mr-ge-dwi-repeated-positions",
    "mr-canon-dti-repeated-positions",
    "mr-philips-dti-with-non-image-file",
)


TIME = "/usr/bin/time"  # GNU time: reports the peak RSS of the command alone (not of a fork of this process)


def _run(command: list[str], ok_codes: tuple[int, ...] = (0,)) -> tuple[float, float, float]:
    """Wall time (s), peak RSS (MB) and CPU time (user + system, s) of one process."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        start = time.perf_counter()
        proc = subprocess.run(
            [TIME, "-f", "%M %U %S", "-o", rss.name, *command],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        elapsed = time.perf_counter() - start
        if proc.returncode not in ok_codes:
            raise SystemExit(f"failed: {' '.join(command)}\n{proc.stderr}")
        peak_kb, user, system = (float(v) for v in rss.read().strip().splitlines()[-1].split())
    return elapsed, peak_kb / 1024.0, user + system


def _cell(
    commands: list[list[str]], runs: int, ok_codes: tuple[int, ...] = (0,)
) -> tuple[list[float], list[float], list[float]]:
    times, peaks, cpus = [], [], []
    for _ in range(runs):
        for command in commands[:-1]:  # set-up commands (clearing an output folder) are not timed
            subprocess.run(command, check=True)
        elapsed, peak, cpu = _run(commands[-1], ok_codes)
        times.append(elapsed)
        peaks.append(peak)
        cpus.append(cpu)
    return times, peaks, cpus


def _fmt(values: list[float], unit: str) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f}) {unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--case", action="append", choices=CASES, help="only these cases (repeatable)")
    args = parser.parse_args()
    dcm2niix = shutil.which("dcm2niix")
    if dcm2niix is None:
        raise SystemExit("dcm2niix is not installed (Debian package dcm2niix)")
    version = subprocess.run([dcm2niix, "-v"], capture_output=True, text=True).stdout.strip().splitlines()[-1:]
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    python = sys.version.split()[0]
    print(f"dcm2niix {' '.join(version)}; python {python}; {os.cpu_count()} CPUs (load {load}); {args.runs} runs")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "empty").mkdir()  # start-up: everything `convert` imports and sets up, then "no series" (exit 2)
        empty = [
            sys.executable,
            "-m",
            "monai_ext.cli.main",
            "dicom",
            "convert",
            str(work / "empty"),
            str(work / "x.nii"),
        ]
        startup, startup_rss, startup_cpu = _cell([empty], args.runs, ok_codes=(2,))
        for case in args.case or CASES:
            folder = args.data / "dicom-breadth" / case / "dicom"
            if not folder.exists():
                print(f"skipped {case}: {folder} not found")
                continue
            ours_out = work / case / "ours.nii.gz"
            ref_dir = work / case / "dcm2niix"
            ours = _cell(
                [[sys.executable, "-m", "monai_ext.cli.main", "dicom", "convert", str(folder), str(ours_out)]],
                args.runs,
            )
            clear = [["rm", "-rf", str(ref_dir)], ["mkdir", "-p", str(ref_dir)]]
            convert = [dcm2niix, "-z", "y", "-b", "y", "-o", str(ref_dir), str(folder)]
            theirs = _cell([*clear, convert], args.runs)
            reference = next(ref_dir.glob("*.nii.gz"))
            rows.append((case, ours, theirs, compare_with_dcm2niix(ours_out, reference)))
    peak = statistics.median(startup_rss)
    print(
        f"\nstart-up of `monai-ext dicom convert` (empty folder): wall {_fmt(startup, 's')}, "
        f"CPU {_fmt(startup_cpu, 's')}, {peak:.0f} MB\n"
    )
    header = ("case", "shape", "spacing diff mm", "centre diff mm", "min corr", "bvals/bvecs", "ours time",
              "dcm2niix time", "time ratio", "ours CPU s", "dcm2niix CPU s", "ours peak MB",
              "dcm2niix peak MB")  # fmt: skip
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for case, (t_ours, m_ours, c_ours), (t_ref, m_ref, c_ref), cmp in rows:
        diffusion = (
            "-"
            if cmp.bvals_equal is None
            else f"{'equal' if cmp.bvals_equal else 'DIFFER'}/{'equal' if cmp.bvecs_equal else 'DIFFER'}"
        )
        shape = "x".join(map(str, cmp.shape)) + (
            "" if cmp.shape == cmp.reference_shape else f" (ref {'x'.join(map(str, cmp.reference_shape))})"
        )
        print(" | ".join((
            case, shape, f"{cmp.spacing_diff:.2g}", f"{cmp.centre_diff:.2g}", f"{cmp.min_correlation:.6f}", diffusion,
            _fmt(t_ours, "s"), _fmt(t_ref, "s"), f"{statistics.median(t_ours) / statistics.median(t_ref):.2f}x",
            f"{statistics.median(c_ours):.2f}", f"{statistics.median(c_ref):.2f}",
            f"{statistics.median(m_ours):.0f}", f"{statistics.median(m_ref):.0f}",
        )))  # fmt: skip


if __name__ == "__main__":
    main()
