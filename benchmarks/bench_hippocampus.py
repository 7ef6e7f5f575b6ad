"""Benchmark: the hippocampus MR segmentation bundle on one MSD crop and on the HippoCrop DICOM series, on CPU.

Run from the repository root::

    .venv/bin/python benchmarks/bench_hippocampus.py              # 5 rounds after 1 warm-up
    .venv/bin/python benchmarks/bench_hippocampus.py --rounds 9 --threads 1

The shipped bundle is loaded once (untrusted, as ``monai-ext infer`` and the Slicer module load it) and run on:

* ``crop``: one real MSD Task04 crop (``hippocampus-msd/imagesTr/hippocampus_001.nii.gz``, NIfTI);
* ``HippoCrop 1`` / ``HippoCrop 2``: the two 1 mm HippoCrop DICOM series of TCIA Brain-Tumor-Progression
  (32 and 35 files).

Per round and input: ``forward`` is the sliding-window network pass alone (the model's own cost), ``end to end``
is everything a user waits for once the bundle is loaded: reading the file or DICOM folder, preprocessing
(RAS, 1 mm, percentile scaling), the forward pass, softmax and label map on the input's grid, writing the
label NIfTI, one probability NIfTI per label and result.json (no PNG montage). ``+ explanation`` adds the
region Grad-CAM map of the largest segment (``pred_explain``). Rounds alternate the inputs; the table gives
medians. Targets: one crop under 1 s end to end; a HippoCrop folder under 2 s end to end.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from monai_ext.bundle.outputs import write_outputs
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
    write_outputs(result, out, bundle=runner.bundle, heatmap=runner.heatmap, montage=False)
    return result.timings["forward"], time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    inputs = {name: path for name, path in INPUTS.items() if path.exists()}
    if not inputs:
        raise SystemExit(f"no benchmark input found under {DATA}")
    start = time.perf_counter()
    runners = {
        "labels + probabilities": BundleRunner(BUNDLE, device="cpu"),
        "+ explanation": BundleRunner(BUNDLE, device="cpu", explain_segmentation=True),
    }
    load_seconds = (time.perf_counter() - start) / 2
    work = Path(tempfile.mkdtemp(prefix="bench_hippocampus_"))
    cases = [(mode, name) for name in inputs for mode in runners]
    times: dict[tuple[str, str], list[tuple[float, float]]] = {case: [] for case in cases}
    for round_index in range(args.rounds + 1):
        for mode, name in cases:
            measured = one_round(runners[mode], inputs[name], work / str(round_index))
            if round_index > 0:  # round 0 warms up
                times[(mode, name)].append(measured)
    print(f"bundle load (untrusted: metadata schema, safe config, sha256, weights): {load_seconds:.2f} s, once")
    print(f"medians of {args.rounds} rounds, CPU, {args.threads} threads")
    print()
    print("| input | outputs | forward (s) | end to end (s) | target (s) | met |")
    print("|---|---|---|---|---|---|")
    for mode, name in cases:
        pairs = times[(mode, name)]
        forward = statistics.median(p[0] for p in pairs)
        total = statistics.median(p[1] for p in pairs)
        target = TARGETS.get(name, 2.0)
        print(
            f"| {name} | {mode} | {forward:.3f} | {total:.3f} | < {target:.0f} | {'yes' if total < target else 'NO'} |"
        )


if __name__ == "__main__":
    main()
