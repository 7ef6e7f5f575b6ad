"""Benchmark: the hippocampus MR segmentation bundle on one MSD crop and on the HippoCrop DICOM series, on CPU.

Run from the repository root::

    .venv/bin/python benchmarks/bench_hippocampus.py              # 5 rounds after 1 warm-up, 1 and 2 threads
    .venv/bin/python benchmarks/bench_hippocampus.py --rounds 9 --threads 2
    .venv/bin/python benchmarks/bench_hippocampus.py --bundles OLD/bundles/hippocampus_mr_segmentation_3d \
        bundles/hippocampus_mr_segmentation_3d   # releases side by side, rounds interleaved

The shipped bundle is loaded once (untrusted, as ``monai-ext infer`` and the Slicer module load it) and run on:

* ``crop``: one real MSD Task04 crop (``hippocampus-msd/imagesTr/hippocampus_001.nii.gz``, NIfTI);
* ``HippoCrop 1`` / ``HippoCrop 2``: the two 1 mm HippoCrop DICOM series of TCIA Brain-Tumor-Progression
  (32 and 35 files).

Per round and input: ``forward`` is the sliding-window network pass alone (the model's own cost), ``end to end``
is everything a user waits for once the bundle is loaded: reading the file or DICOM folder, preprocessing
(RAS, 1 mm, percentile scaling), the forward pass, softmax and label map on the input's grid, writing the
label NIfTI, one probability NIfTI per label and result.json (no PNG montage). ``+ explanation`` adds the
region Grad-CAM map of the largest segment (``pred_explain``). Rounds alternate the inputs; the table gives
medians. Each thread count (``--threads``, default 1 and 2: torch intra-op threads) is a column of the same
table: on a machine whose cores are shared with other jobs, two OpenMP threads can be much slower than one.
Targets: one crop under 1 s end to end (labels and probabilities); a HippoCrop folder under 2 s end to end,
with the explanation too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from monai_ext.bundle.outputs.write import write_outputs
from monai_ext.bundle.runner import BundleRunner

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "bundles" / "hippocampus_mr_segmentation_3d"
DATA = REPO.parent / "shared" / "data"
INPUTS = {
    "crop (NIfTI, 35x50x35)": DATA / "hippocampus-msd" / "imagesTr" / "hippocampus_001.nii.gz",
    "HippoCrop 1 (DICOM, 32 files)": DATA
    / "dicom"
    / "mr-brain-tcia-brain-tumor-progression"
    / "Study1"
    / "13_HCropVolume",
    "HippoCrop 2 (DICOM, 35 files)": DATA
    / "dicom"
    / "mr-brain-tcia-brain-tumor-progression"
    / "Study2"
    / "14_HCropVolume",
}
TARGETS = {"crop (NIfTI, 35x50x35)": 1.0}


def one_round(runner: BundleRunner, source: Path, out: Path) -> tuple[float, float]:
    """``(forward seconds, end-to-end seconds)`` of one run."""
    start = time.perf_counter()
    result = runner.run(source)
    write_outputs(result, out, bundle=runner.bundle, montage=False)
    return result.timings["forward"], time.perf_counter() - start


def measure(runners: dict[str, BundleRunner], inputs: dict[str, Path], rounds: int, work: Path) -> dict:
    """``{(mode, input): (median forward s, median end-to-end s)}`` over ``rounds`` after one warm-up round."""
    cases = [(mode, name) for name in inputs for mode in runners]
    times: dict[tuple[str, str], list[tuple[float, float]]] = {case: [] for case in cases}
    for round_index in range(rounds + 1):
        for mode, name in cases:
            measured = one_round(runners[mode], inputs[name], work / str(round_index))
            if round_index > 0:  # round 0 warms up
                times[(mode, name)].append(measured)
    return {
        case: (statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs))
        for case, pairs in times.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--bundles", type=Path, nargs="+", default=[BUNDLE], help="bundle folders timed side by side (default: shipped)"
    )
    args = parser.parse_args()
    inputs = {name: path for name, path in INPUTS.items() if path.exists()}
    if not inputs:
        raise SystemExit(f"no benchmark input found under {DATA}")
    start = time.perf_counter()
    runners = {}
    for index, bundle in enumerate(args.bundles):
        tag = f" [{index + 1}: {bundle.name}]" if len(args.bundles) > 1 else ""
        runners[f"labels + probabilities{tag}"] = BundleRunner(bundle, device="cpu")
        runners[f"+ explanation{tag}"] = BundleRunner(bundle, device="cpu", explain_segmentation=True)
    load_seconds = (time.perf_counter() - start) / len(runners)
    for index, bundle in enumerate(args.bundles):
        print(f"[{index + 1}] {bundle.resolve()}")
    work = Path(tempfile.mkdtemp(prefix="bench_hippocampus_"))
    results = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        results[threads] = measure(runners, inputs, args.rounds, work / f"t{threads}")
    print(f"bundle load (untrusted: metadata schema, safe config, sha256, weights): {load_seconds:.2f} s, once")
    print(f"medians of {args.rounds} rounds, CPU; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print()
    columns = [f"forward / end to end, {t} thread{'s' if t > 1 else ''} (s)" for t in args.threads]
    print(f"| input | outputs | {' | '.join(columns)} | target (s) | met (best) |")
    print("|---|---|" + "---|" * len(columns) + "---|---|")
    for mode, name in next(iter(results.values())):
        cells = [f"{results[t][(mode, name)][0]:.3f} / {results[t][(mode, name)][1]:.3f}" for t in args.threads]
        best = min(results[t][(mode, name)][1] for t in args.threads)
        plain = mode.startswith("labels + probabilities")
        target = TARGETS.get(name, 2.0) if plain or name not in TARGETS else None
        met = "-" if target is None else ("yes" if best < target else "NO")
        limit = "-" if target is None else f"< {target:.0f}"
        print(f"| {name} | {mode} | {' | '.join(cells)} | {limit} | {met} |")


if __name__ == "__main__":
    main()
