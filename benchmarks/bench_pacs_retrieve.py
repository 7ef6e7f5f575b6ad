"""Benchmark: retrieve the 64-slice CT slab from a local Orthanc, ours vs the loops people write instead.

Run from the repository root::

    .venv/bin/python benchmarks/bench_pacs_retrieve.py            # 5 runs per method
    .venv/bin/python benchmarks/bench_pacs_retrieve.py --runs 9
    .venv/bin/python benchmarks/bench_pacs_retrieve.py --quick    # 1 run per method (smoke check)

A real Orthanc (Debian ``orthanc`` + ``orthanc-dicomweb``) is started on free 127.0.0.1 ports with a
temporary storage folder (the launcher of ``tests/pacs/orthanc.py``), loaded with
``<data>/dicom/ct-chest-lidc0314-slab`` (64 x 512 x 512 CT, 33 MB; ``--data``, default ../shared/data),
and stopped at the end.

Methods, each writing the series' files into an empty folder:

* ``ours dicomweb``: ``monai_ext.pacs.pull_series`` over DICOMweb (QIDO listing, one streamed WADO-RS
  series request, each instance checked and written atomically, count checked, listing re-checked);
* ``ours dimse c-get`` / ``ours dimse c-move``: the same over DIMSE (C-FIND listing, C-GET on one
  association / C-MOVE to our storage SCP);
* ``dicomweb-client loop``: ``search_for_instances`` then ``retrieve_instance`` + ``save_as`` per instance;
* ``dicomweb-client series``: one ``retrieve_series`` (all instances in memory) then ``save_as`` each;
* ``getscu (dcmtk)``: ``getscu -S`` series-level C-GET into the folder (a separate C++ process).

Measured per method, each run in a fresh worker process (``--worker``):

* time: wall time of the retrieval call (imports excluded; getscu: the process, start-up included);
  median and min-max over ``--runs``;
* memory: peak RSS increase of the worker during the call (``VmHWM`` after, reset with
  ``/proc/self/clear_refs``, minus ``VmRSS`` before); for getscu, the child's peak RSS
  (``ru_maxrss``, absolute, marked ``abs``);
* check: the folder holds 64 files and loads (``load_dicom_series``) to the same array as the source folder.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from process_memory import read_memory_kib, reset_peak_rss

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from monai_ext.io.dicom.load import load_dicom_series  # noqa: E402
from tests.pacs.orthanc import Orthanc  # noqa: E402

SERIES = "dicom/ct-chest-lidc0314-slab"
METHODS = (
    "ours dicomweb",
    "ours dimse c-get",
    "ours dimse c-move",
    "dicomweb-client loop",
    "dicomweb-client series",
    "getscu (dcmtk)",
)


def _retriever(method: str, cfg: dict[str, Any], out: Path) -> Callable[[], None]:
    """The call to time for ``method`` (imports and set-up done here, outside the timing)."""
    from monai_ext.pacs import parse_server, pull_series

    web = replace(parse_server(cfg["dicomweb"]), username=cfg["username"], password=cfg["password"])
    uids = {"study_uid": cfg["study"], "series_uid": cfg["series"]}
    if method.startswith("ours"):
        query = "&retrieve=move&move_port=" + str(cfg["move_port"]) if "move" in method else ""
        dimse = parse_server(f"{cfg['dimse']}?calling_ae={cfg['aet']}{query}")
        server = web if method == "ours dicomweb" else dimse

        def ours() -> None:
            pull_series(server, **uids, cache_dir=out)

        return ours
    if method.startswith("dicomweb-client"):
        import requests
        from dicomweb_client.api import DICOMwebClient

        session = requests.Session()
        session.auth = (cfg["username"], cfg["password"])
        client = DICOMwebClient(url=cfg["dicomweb"], session=session)

        def loop() -> None:
            out.mkdir(parents=True, exist_ok=True)
            if method.endswith("loop"):
                for item in client.search_for_instances(cfg["study"], cfg["series"]):
                    sop = item["00080018"]["Value"][0]
                    ds = client.retrieve_instance(cfg["study"], cfg["series"], sop)
                    ds.save_as(out / f"{sop}.dcm")
            else:
                for ds in client.retrieve_series(cfg["study"], cfg["series"]):
                    ds.save_as(out / f"{ds.SOPInstanceUID}.dcm")

        return loop

    def getscu() -> None:
        out.mkdir(parents=True, exist_ok=True)
        cmd = ["getscu", "-S", "-aet", cfg["aet"], "-aec", "ORTHANC", "127.0.0.1", str(cfg["dicom_port"])]
        cmd += ["-k", "QueryRetrieveLevel=SERIES", "-k", f"StudyInstanceUID={cfg['study']}"]
        cmd += ["-k", f"SeriesInstanceUID={cfg['series']}", "-od", str(out)]
        subprocess.run(cmd, check=True, capture_output=True)

    return getscu


def run_worker(method: str, cfg_json: str, out: str) -> None:
    """One timed retrieval in this fresh process; prints one JSON line."""
    warnings.simplefilter("ignore")
    call = _retriever(method, json.loads(cfg_json), Path(out))
    if not reset_peak_rss():
        raise OSError("cannot reset the peak RSS (/proc/self/clear_refs)")
    before = read_memory_kib()
    start = time.perf_counter()
    call()
    seconds = time.perf_counter() - start
    after = read_memory_kib()
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    peak = child if method.startswith("getscu") else (after["VmHWM"] - before["VmRSS"]) * 1024
    print(json.dumps({"seconds": seconds, "peak_bytes": peak}))


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and not p.name.endswith((".json", ".lock"))]


def measure(method: str, cfg: dict[str, Any], runs: int, reference: np.ndarray, scratch: Path) -> dict[str, Any]:
    times, peaks, check = [], [], ""
    for run in range(runs):
        out = scratch / f"{method.replace(' ', '_')}_{run}"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", method, json.dumps(cfg), str(out)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return {"method": method, "error": done.stderr.strip().splitlines()[-1]}
        record = json.loads(done.stdout.strip().splitlines()[-1])
        times.append(record["seconds"])
        peaks.append(record["peak_bytes"])
        if run == 0:
            files = _files(out)
            same = np.array_equal(load_dicom_series(files).array, reference)
            check = f"{len(files)} files, {'same volume' if same else 'DIFFERENT VOLUME'}"
        shutil.rmtree(out, ignore_errors=True)
    return {
        "method": method,
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "peak_mb": statistics.median(peaks) / 1e6,
        "check": check,
    }


def print_table(rows: list[dict[str, Any]], runs: int) -> None:
    base = next((r["median"] for r in rows if r["method"] == "ours dicomweb" and "median" in r), None)
    print(f"\nRetrieve the LIDC CT slab (64 x 512 x 512, 33 MB) from a local Orthanc 1.10; medians of {runs} runs")
    header = f"{'method':<24} {'median s':>9} {'min-max s':>13} {'vs ours dicomweb':>17} {'peak MB':>9}  check"
    print(header)
    print("-" * len(header))
    for row in rows:
        if "error" in row:
            print(f"{row['method']:<24} error: {row['error']}")
            continue
        ratio = f"{row['median'] / base:.2f}x" if base else "-"
        absolute = " abs" if row["method"].startswith("getscu") else ""
        print(
            f"{row['method']:<24} {row['median']:>9.3f} {row['min']:>6.3f}-{row['max']:<6.3f} {ratio:>17} "
            f"{row['peak_mb']:>9.1f}{absolute}  {row['check']}"
        )
    print("peak MB: RSS increase of the worker during the call; getscu: the child's own peak RSS (abs).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one run per method")
    parser.add_argument("--worker", nargs=3, metavar=("METHOD", "CONFIG", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(*args.worker)
        return
    folder = args.data / SERIES
    if not folder.is_dir():
        raise SystemExit(f"the CT slab is not at {folder} (pass --data)")
    if shutil.which("getscu") is None:
        raise SystemExit("getscu (Debian dcmtk) is not installed")
    runs = 1 if args.quick else args.runs
    files = sorted(folder.glob("*.dcm"))
    reference = load_dicom_series(folder).array
    with tempfile.TemporaryDirectory(prefix="bench-pacs-") as tmp:
        orthanc = Orthanc(root=Path(tmp) / "orthanc").start()
        try:
            orthanc.upload(files)
            import pydicom

            first = pydicom.dcmread(files[0], stop_before_pixels=True)
            cfg = {
                "dicomweb": orthanc.dicomweb_url,
                "dimse": orthanc.dimse_url,
                "dicom_port": orthanc.dicom_port,
                "move_port": orthanc.move_port,
                "aet": orthanc.our_aet,
                "username": orthanc.username,
                "password": orthanc.password,
                "study": str(first.StudyInstanceUID),
                "series": str(first.SeriesInstanceUID),
            }
            rows = [measure(method, cfg, runs, reference, Path(tmp)) for method in METHODS]
        finally:
            orthanc.stop()
    print_table(rows, runs)


if __name__ == "__main__":
    main()
