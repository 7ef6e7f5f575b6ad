"""Benchmark: load real DICOM series with monai_ext and with the loaders people use instead.

Run from the repository root (``make bench`` does the same)::

    .venv/bin/python benchmarks/bench_dicom_load.py                 # full run, 5 timed runs per cell
    .venv/bin/python benchmarks/bench_dicom_load.py --quick         # smoke check: 1 run, CT slab only
    .venv/bin/python benchmarks/bench_dicom_load.py --series ct-head-phantom-philips --runs 9
    .venv/bin/python benchmarks/bench_dicom_load.py --profile       # also cProfile ours on each series

Data: the real series in ``<data>/dicom/`` (``--data``, default ``<repo>/../shared/data``).

Loaders compared (each as a user would call it):

* ``ours``: ``monai_ext.io.load_dicom_series(folder)`` with every check on (and ``resample=True`` as an
  extra row for series that ours refuses);
* ``SimpleITK``: ``ImageSeriesReader`` on ``GetGDCMSeriesFileNames(folder)`` (discovery is timed), then a
  zero-copy ``GetArrayViewFromImage``;
* ``MONAI PydicomReader`` / ``MONAI ITKReader``: ``LoadImage(reader=..., image_only=True)(folder)`` (the
  ITK row needs the ``itk`` package, ~1.5 GB, and says so when it is absent);
* ``pydicom loop``: the minimal hand-written loop: ``dcmread`` every file (files that are not DICOM at
  all, like the ``SOURCE.txt`` attribution notes, are skipped), sort by ``ImagePositionPatient`` projected
  on the slice normal, stack ``pixel_array`` rescaled to float32, spacing from the first two slices.

Measured per (loader, series):

* time: median (min-max) wall time of ``--runs`` calls after one warm-up call, all in this process
  (``time.perf_counter``);
* memory: one call in a fresh subprocess (``--worker LOADER SERIES``); the peak RSS increase is
  ``VmHWM`` after the call minus ``VmRSS`` after imports and set-up, with the high-water mark reset via
  ``/proc/self/clear_refs`` first; also that peak divided by the ``nbytes`` of the returned volume;
* notes: the slice positions implied by the returned geometry are compared with the positions in the
  headers, so a loader that spreads a series with a missing slice over a uniform grid is flagged.

Targets, on the headline series ``ct-chest-lidc0314-slab`` (64 x 512 x 512 CT):

* ours median time / SimpleITK median time <= 0.5 (measured side by side in the same run);
* ours peak RSS increase / volume nbytes <= 1.5.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from process_memory import read_memory_kib, reset_peak_rss

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
HEADLINE = "ct-chest-lidc0314-slab"
SERIES = [  # folders under <data>/dicom
    "ct-chest-lidc0314-slab",
    "ct-head-phantom-philips",
    "mr-head-t1-sag-siemens-prisma/dicom",
    "mr-brain-t2-ax-siemens-trio",
]
TARGET_TIME_RATIO = 0.5
TARGET_PEAK_RATIO = 1.5
POSITION_TOLERANCE_MM = 0.05
LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
MIB = 1024 * 1024


class NotInstalledError(RuntimeError):
    """A loader's package is not installed; the message is what the table shows."""


@dataclass
class Loaded:
    """What a loader returned, reduced to what the benchmark compares."""

    data: Any  # keeps the returned buffer alive while memory is measured
    shape: tuple[int, ...]
    dtype: str
    nbytes: int
    lps_affine: np.ndarray  # (i, j, k) index -> LPS mm, in the index order of ``shape`` as (I, J, K)
    n_slices: int


LoadFn = Callable[[Path], Loaded]


# ----------------------------------------------------------------------------------------------- loaders


def _setup_ours(resample: bool = False) -> LoadFn:
    from monai_ext.io import load_dicom_series

    def load(folder: Path) -> Loaded:
        vol = load_dicom_series(folder, resample=resample)
        arr = vol.array
        return Loaded(arr, arr.shape, str(arr.dtype), arr.nbytes, LPS_FROM_RAS @ vol.affine, arr.shape[2])

    return load


def _setup_sitk() -> LoadFn:
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalWarningDisplay(False)  # "non uniform sampling" warnings on stderr

    def load(folder: Path) -> Loaded:
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
        image = reader.Execute()
        view = sitk.GetArrayViewFromImage(image)  # (K, J, I), shares the image buffer
        affine = np.eye(4)
        affine[:3, :3] = np.reshape(image.GetDirection(), (3, 3)) * np.asarray(image.GetSpacing())
        affine[:3, 3] = image.GetOrigin()
        return Loaded((image, view), view.shape, str(view.dtype), view.nbytes, affine, image.GetSize()[2])

    return load


def _setup_monai(reader: str) -> LoadFn:
    if reader == "ITKReader":
        try:
            import itk  # noqa: F401
        except ImportError as exc:
            raise NotInstalledError("not installed (itk package, ~1.5 GB)") from exc
    else:
        import pydicom.pixels  # noqa: F401  (pre-import the lazily imported decoders)
    from monai.transforms import LoadImage

    loader = LoadImage(reader=reader, image_only=True)

    def load(folder: Path) -> Loaded:
        img = loader(str(folder))
        nbytes = img.element_size() * img.numel()
        affine = LPS_FROM_RAS @ img.affine.numpy()
        return Loaded(img, tuple(img.shape), str(img.dtype).replace("torch.", ""), nbytes, affine, img.shape[2])

    return load


def _setup_pydicom_loop() -> LoadFn:
    import pydicom
    import pydicom.pixels  # pre-import the lazily imported decoders
    from pydicom.errors import InvalidDicomError

    def load(folder: Path) -> Loaded:
        slices = []
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            try:
                slices.append(pydicom.dcmread(path))
            except InvalidDicomError:
                continue  # not DICOM at all (e.g. SOURCE.txt)
        iop = np.asarray(slices[0].ImageOrientationPatient, dtype=float)
        normal = np.cross(iop[:3], iop[3:])
        slices.sort(key=lambda ds: float(normal @ np.asarray(ds.ImagePositionPatient, dtype=float)))
        volume = np.stack(
            [
                ds.pixel_array.astype(np.float32) * float(getattr(ds, "RescaleSlope", 1))
                + float(getattr(ds, "RescaleIntercept", 0))
                for ds in slices
            ]
        )  # (K, rows, columns)
        first, second = (np.asarray(ds.ImagePositionPatient, dtype=float) for ds in slices[:2])
        row_spacing, col_spacing = (float(v) for v in slices[0].PixelSpacing)
        affine = np.eye(4)
        affine[:3, 0] = iop[:3] * col_spacing
        affine[:3, 1] = iop[3:] * row_spacing
        affine[:3, 2] = normal * float(normal @ (second - first))
        affine[:3, 3] = first
        return Loaded(volume, volume.shape, str(volume.dtype), volume.nbytes, affine, volume.shape[0])

    return load


@dataclass(frozen=True)
class LoaderSpec:
    key: str
    label: str
    setup: Callable[[], LoadFn]
    only_if_ours_refuses: bool = False


LOADERS = {
    spec.key: spec
    for spec in [
        LoaderSpec("ours", "ours", _setup_ours),
        LoaderSpec("ours-resample", "ours (resample=True)", lambda: _setup_ours(resample=True), True),
        LoaderSpec("sitk", "SimpleITK ImageSeriesReader", _setup_sitk),
        LoaderSpec("monai-pydicom", "MONAI LoadImage PydicomReader", lambda: _setup_monai("PydicomReader")),
        LoaderSpec("monai-itk", "MONAI LoadImage ITKReader", lambda: _setup_monai("ITKReader")),
        LoaderSpec("pydicom-loop", "pydicom loop", _setup_pydicom_loop),
    ]
}


def describe_error(exc: BaseException) -> str:
    """Short table text for a failed load: our typed refusals vs. anything else."""
    name = type(exc).__name__
    if type(exc).__module__.startswith("monai_ext"):
        reason = {"MissingSliceError": "missing slice"}.get(name, name)
        return f"refused ({reason})"
    message = " ".join(str(exc).split())
    return f"error: {name}: {message[:70]}"


# ------------------------------------------------------------------------------------ memory (worker)


def run_worker(loader_key: str, series: str, data: Path) -> None:
    """Load once in this fresh process and print the memory measurement as one JSON line."""
    warnings.simplefilter("ignore")
    load = LOADERS[loader_key].setup()
    folder = series_folder(data, series)
    gc.collect()
    hwm_reset = reset_peak_rss()
    baseline = read_memory_kib()
    try:
        result = load(folder)
    except Exception as exc:
        print(json.dumps({"error": describe_error(exc)}))
        return
    after = read_memory_kib()
    peak = (after["VmHWM"] - baseline["VmRSS"]) * 1024
    print(json.dumps({"peak_bytes": peak, "nbytes": result.nbytes, "hwm_reset": hwm_reset}))


def measure_memory(loader_key: str, series: str, data: Path) -> dict[str, Any]:
    """Run :func:`run_worker` in a subprocess."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--data", str(data), "--worker", loader_key, series]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"worker failed: {tail[:70]}"}
    return json.loads(lines[-1])


# ------------------------------------------------------------------------------------ timing, geometry


def time_loader(load: LoadFn, folder: Path, runs: int) -> tuple[list[float], Loaded]:
    """One warm-up call, then ``runs`` timed calls; exceptions propagate from the warm-up."""
    result = load(folder)
    times = []
    for _ in range(runs):
        del result
        gc.collect()
        start = time.perf_counter()
        result = load(folder)
        times.append(time.perf_counter() - start)
    return times, result


@dataclass
class Reference:
    """Slice positions along the normal, read from the headers of the image files."""

    normal: np.ndarray
    positions: np.ndarray  # sorted, mm

    @property
    def spacing(self) -> float:
        return float(np.median(np.diff(self.positions)))


def reference_geometry(folder: Path) -> Reference:
    import pydicom
    from pydicom.errors import InvalidDicomError

    headers = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except InvalidDicomError:
            continue
        if "ImagePositionPatient" in ds and "ImageOrientationPatient" in ds:
            headers.append(ds)
    iop = np.asarray(headers[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    positions = np.sort([float(normal @ np.asarray(ds.ImagePositionPatient, dtype=float)) for ds in headers])
    return Reference(normal, positions)


def geometry_note(ref: Reference, loaded: Loaded) -> str:
    """Do the slices of the returned grid sit where the headers say the slices are?"""
    origin, step = loaded.lps_affine[:3, 3], loaded.lps_affine[:3, 2]
    implied = np.sort(ref.normal @ origin + (ref.normal @ step) * np.arange(loaded.n_slices))
    spacing = abs(float(ref.normal @ step))
    n_real = len(ref.positions)
    if loaded.n_slices == n_real:
        error = float(np.max(np.abs(implied - ref.positions)))
    else:  # interpolated slices: every real slice must still fall on the grid
        error = float(np.max(np.min(np.abs(implied[None, :] - ref.positions[:, None]), axis=1)))
    grid = f"{loaded.n_slices} slices on a uniform {spacing:.3f} mm grid"
    if error > POSITION_TOLERANCE_MM:
        return f"WRONG GEOMETRY: {grid}, real slices off by up to {error:.2f} mm"
    if loaded.n_slices != n_real:
        return f"{grid} ({loaded.n_slices - n_real} interpolated), positions OK"
    return "positions OK"


# --------------------------------------------------------------------------------------------- table


@dataclass
class Row:
    series: str
    loader: str
    key: str
    shape: str = "-"
    dtype: str = "-"
    times: list[float] = field(default_factory=list)
    status: str = ""  # set when the load did not return a volume
    memory: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None

    @property
    def peak_ratio(self) -> float | None:
        if "peak_bytes" not in self.memory:
            return None
        return self.memory["peak_bytes"] / self.memory["nbytes"]

    def cells(self) -> list[str]:
        if self.status:
            time_cell, mem_cell, ratio_cell = self.status, "-", "-"
        else:
            time_cell = f"{self.median:.3f} ({min(self.times):.3f}-{max(self.times):.3f})"
            mem_cell, ratio_cell = self._memory_cells()
        cells = [self.series, self.loader, self.shape, self.dtype, time_cell, mem_cell, ratio_cell, self.notes]
        return [c.replace("|", "/") for c in cells]

    def _memory_cells(self) -> tuple[str, str]:
        if "error" in self.memory:
            return self.memory["error"], "-"
        mark = "" if self.memory["hwm_reset"] else "*"
        return f"{self.memory['peak_bytes'] / MIB:.1f}{mark}", f"{self.peak_ratio:.2f}"


HEADER = ["series", "loader", "shape", "dtype", "time s: median (min-max)", "peak RSS +MiB", "peak/volume", "notes"]


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def bench_one(spec: LoaderSpec, series: str, data: Path, runs: int, ref: Reference) -> Row:
    row = Row(series, spec.label, spec.key)
    try:
        load = spec.setup()
    except NotInstalledError as exc:
        row.status = str(exc)
        return row
    try:
        row.times, result = time_loader(load, series_folder(data, series), runs)
    except Exception as exc:
        row.status = describe_error(exc)
        if row.status.startswith("refused"):  # our typed refusal: its first clause says what is wrong
            row.notes = f"{type(exc).__name__}: " + " ".join(str(exc).split(";")[0].split())[:100]
        return row
    row.shape = "x".join(str(s) for s in result.shape)
    row.dtype = result.dtype
    row.notes = geometry_note(ref, result)
    del result
    row.memory = measure_memory(spec.key, series, data)
    return row


def bench_series(series: str, data: Path, runs: int) -> list[Row]:
    ref = reference_geometry(series_folder(data, series))
    rows: list[Row] = []
    ours_refused = False
    for spec in LOADERS.values():
        if spec.only_if_ours_refuses and not ours_refused:
            continue
        row = bench_one(spec, series, data, runs, ref)
        ours_refused = ours_refused or (spec.key == "ours" and row.status.startswith("refused"))
        rows.append(row)
        print(f"  {series}: {spec.label}: {row.cells()[4]}", file=sys.stderr, flush=True)
    return rows


def headline_summary(rows: list[Row]) -> list[str]:
    found = {r.key: r for r in rows if r.series == HEADLINE}
    ours, sitk = found.get("ours"), found.get("sitk")
    if not ours or not sitk or ours.median is None or sitk.median is None:
        return [f"(headline ratios need ours and SimpleITK rows for {HEADLINE})"]
    ratio, best = ours.median / sitk.median, min(ours.times) / min(sitk.times)
    verdict = "met" if ratio <= TARGET_TIME_RATIO else "MISSED"
    lines = [
        f"- {HEADLINE}: ours / SimpleITK median time = {ratio:.2f} (target <= {TARGET_TIME_RATIO}: {verdict}); "
        f"ratio of the fastest runs = {best:.2f}"
    ]
    peak = ours.peak_ratio
    if peak is None:
        lines.append(f"- {HEADLINE}: ours peak/volume not measured ({ours.memory.get('error')})")
    else:
        verdict = "met" if peak <= TARGET_PEAK_RATIO else "MISSED"
        lines.append(f"- {HEADLINE}: ours peak RSS / volume = {peak:.2f} (target <= {TARGET_PEAK_RATIO}: {verdict})")
    return lines


# ------------------------------------------------------------------------------------------ header, cli


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_state() -> str:
    def git(*args: str) -> str:
        proc = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False)
        return proc.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "?"
    dirty = len(git("status", "--porcelain", "--", "monai_ext").splitlines())
    return f"{head} + {dirty} uncommitted file(s) in monai_ext" if dirty else head


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def machine_info(runs: int) -> list[str]:
    dists = ["monai-ext", "numpy", "pydicom", "SimpleITK", "monai", "torch", "itk", "python-gdcm", "pylibjpeg"]
    versions = ", ".join(f"{d} {_version(d)}" for d in dists)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load1, load5, _ = os.getloadavg()
    return [
        "## DICOM series loading benchmark",
        "",
        f"- machine: {_cpu_model()}, {os.cpu_count()} cores ({usable} usable), load average {load1:.2f} / {load5:.2f}",
        f"- python {platform.python_version()} on {platform.platform()}",
        f"- {versions}",
        f"- monai_ext source: git {_git_state()}",
        f"- time: median (min-max) of {runs} run(s) after 1 warm-up, same process; memory: one load in a fresh"
        " subprocess, VmHWM after - VmRSS after imports (VmHWM reset via clear_refs; * = could not reset)",
        "- shape as returned: SimpleITK's array view is (K, J, I), the pydicom loop (K, rows, cols), others (I, J, K)",
        "",
    ]


def series_folder(data: Path, series: str) -> Path:
    return data / "dicom" / series


def resolve_series(names: list[str] | None) -> list[str]:
    if not names:
        return list(SERIES)
    chosen = []
    for name in names:
        match = [s for s in SERIES if name in (s, s.split("/")[0])]
        if not match:
            sys.exit(f"unknown series {name!r}; choose from: {', '.join(SERIES)}")
        chosen += match
    return chosen


def profile_ours(series: list[str], data: Path, runs: int) -> None:
    """cProfile ours (with ``resample=True`` where plain ours refuses) and print the top functions."""
    for name in series:
        folder = series_folder(data, name)
        for spec in (LOADERS["ours"], LOADERS["ours-resample"]):
            load = spec.setup()
            try:
                load(folder)  # warm-up
            except Exception:
                continue
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(runs):
                load(folder)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("tottime").print_stats(12)
            stats.sort_stats("cumulative").print_stats(r"monai_ext", 12)
            title = f"profile of {spec.label} on {name} ({runs} run(s)): by own time, then monai_ext by cumulative"
            print(f"\n### {title}\n```\n{out.getvalue().strip()}\n```")
            break


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data root holding dicom/")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per cell (after 1 warm-up)")
    parser.add_argument("--series", action="append", help=f"series to run (repeatable); default all: {SERIES}")
    parser.add_argument("--quick", action="store_true", help=f"smoke check: 1 run, {HEADLINE} only")
    parser.add_argument("--profile", action="store_true", help="also cProfile ours on the selected series")
    parser.add_argument("--worker", nargs=2, metavar=("LOADER", "SERIES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.series = 1, args.series or [HEADLINE]
    if args.runs < 1:
        parser.error("--runs must be >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    data = args.data.resolve()
    if not (data / "dicom").is_dir():
        sys.exit(f"DICOM data not found: {data / 'dicom'} does not exist; pass --data <shared data root>")
    if args.worker:
        run_worker(args.worker[0], args.worker[1], data)
        return
    warnings.simplefilter("ignore")
    series = resolve_series(args.series)
    header = machine_info(args.runs)
    rows = [row for name in series for row in bench_series(name, data, args.runs)]
    print("\n".join([*header, markdown_table(rows), "", *headline_summary(rows)]))
    if args.profile:
        profile_ours(series, data, args.runs)


if __name__ == "__main__":
    main()
