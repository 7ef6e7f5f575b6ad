"""Sliding-window inference of the MONAI Model Zoo ``spleen_ct_segmentation`` bundle on the 512x512x64 CT slab:
``monai-ext infer`` (untrusted, the config unchanged) against the bundle's own ``python -m monai.bundle run``.

Both run the same config with the same random weights (the network's own state dict, saved once) in fresh
processes; each run's wall time (imports included), its inference time (the runner's stage timings / the
evaluator's "Time taken") and its peak resident memory (``wait4`` rusage of the child) are recorded. MONAI reads a
NIfTI conversion of the series; the runner reads the same NIfTI and, in a third row, the DICOM folder itself.
Prints a table of medians with ratios to MONAI, and the agreement of the two label maps.

Usage: ``PYTHONPATH=. python benchmarks/bench_zoo_spleen.py [--runs 3]``
(the series and the bundle come from ``../shared/data`` and ``../shared/zoo``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from child_process import run_measured

REPO = Path(__file__).resolve().parents[1]
SERIES = REPO.parent / "shared" / "data" / "dicom" / "ct-chest-lidc0314-slab"
BUNDLE = REPO.parent / "shared" / "zoo" / "spleen_ct_segmentation"


@dataclass
class Run:
    wall_s: float
    inference_s: float
    peak_mb: float
    label_map: Path


def _bundle_copy(target: Path) -> Path:
    from monai.bundle import ConfigParser

    shutil.copytree(BUNDLE, target)
    (target / "models").mkdir(exist_ok=True)
    parser = ConfigParser()
    parser.read_config(str(target / "configs" / "inference.json"))
    torch.manual_seed(2)
    state = parser.get_parsed_content("network_def").state_dict()
    state["model.2.1.conv.unit0.conv.bias"].zero_()  # both classes appear with random weights
    torch.save(state, target / "models" / "model.pt")
    return target


def _nifti(target: Path) -> Path:
    from monai_ext.io.dicom.load import load_dicom_series
    from monai_ext.io.nifti import save_nifti

    return save_nifti(load_dicom_series(SERIES), target, sidecar=False)


def _measure(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB and stderr+stdout of one child process."""
    code, wall, peak, text = run_measured(command, env)
    if code != 0:
        raise RuntimeError(f"{command[:4]} failed:\n{text[-2000:]}")
    return wall, peak, text


def _ours(bundle: Path, source: Path, out: Path, env: dict[str, str]) -> Run:
    command = [sys.executable, "-m", "monai_ext.cli.main", "infer", str(source), "--bundle", str(bundle)]
    wall, peak, _ = _measure([*command, "--out", str(out), "--no-montage", "--device", "cpu"], env)
    summary = json.loads((out / "result.json").read_text())
    timings = summary["timings"]
    inference = sum(timings.get(k, 0.0) for k in ("load", "preprocess", "forward", "segmentation", "resample"))
    return Run(wall, inference, peak, Path(summary["segmentations"]["pred"]["path"]))


def _monai(bundle: Path, source: Path, out: Path, env: dict[str, str]) -> Run:
    command = [
        sys.executable, "-m", "monai.bundle", "run",
        "--config_file", str(bundle / "configs" / "inference.json"),
        "--meta_file", str(bundle / "configs" / "metadata.json"),
        "--bundle_root", str(bundle),
        "--datalist", json.dumps([str(source)]),
        "--output_dir", str(out),
        "--dataloader#num_workers", "0",
    ]  # fmt: skip
    wall, peak, text = _measure(command, env)
    taken = re.findall(r"Engine run finished\. Time taken: (\d+):(\d+):([\d.]+)", text)
    hours, minutes, seconds = taken[-1] if taken else ("0", "0", "nan")
    stem = source.name.removesuffix(".nii.gz")
    return Run(wall, int(hours) * 3600 + int(minutes) * 60 + float(seconds), peak, out / stem / f"{stem}_trans.nii.gz")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not SERIES.is_dir() or not BUNDLE.is_dir():
        raise SystemExit(f"needs {SERIES} and {BUNDLE}")
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONWARNINGS="ignore")
    with tempfile.TemporaryDirectory(prefix="bench_zoo_") as tmp:
        root = Path(tmp)
        bundle = _bundle_copy(root / "spleen_ct_segmentation")
        nifti = _nifti(root / "slab.nii.gz")
        runs: dict[str, list[Run]] = {
            "monai.bundle run (NIfTI)": [],
            "monai-ext infer (NIfTI)": [],
            "monai-ext infer (DICOM)": [],
        }
        for index in range(args.runs):  # interleaved, so machine load hits all alike
            runs["monai.bundle run (NIfTI)"].append(_monai(bundle, nifti, root / f"monai{index}", env))
            runs["monai-ext infer (NIfTI)"].append(_ours(bundle, nifti, root / f"ours{index}", env))
            runs["monai-ext infer (DICOM)"].append(_ours(bundle, SERIES, root / f"dicom{index}", env))
        _report(runs, args.runs)


def _report(runs: dict[str, list[Run]], count: int) -> None:
    reference = runs["monai.bundle run (NIfTI)"]
    base = {
        "wall": statistics.median(r.wall_s for r in reference),
        "inference": statistics.median(r.inference_s for r in reference),
        "peak": statistics.median(r.peak_mb for r in reference),
    }
    theirs = np.asanyarray(nib.load(reference[0].label_map).dataobj).squeeze().round()
    print(f"spleen_ct_segmentation, 512x512x64 CT slab, CPU ({torch.get_num_threads()} threads), medians of {count}")
    print(f"{'runner':28s} {'wall s':>8s} {'x':>6s} {'infer s':>8s} {'x':>6s} {'peak MB':>8s} {'x':>6s} {'agree':>7s}")
    for name, measured in runs.items():
        wall = statistics.median(r.wall_s for r in measured)
        inference = statistics.median(r.inference_s for r in measured)
        peak = statistics.median(r.peak_mb for r in measured)
        ours = np.asanyarray(nib.load(measured[0].label_map).dataobj).squeeze()
        agree = float((ours == theirs).mean()) if ours.shape == theirs.shape else float("nan")
        print(
            f"{name:28s} {wall:8.2f} {wall / base['wall']:6.2f} {inference:8.2f} {inference / base['inference']:6.2f}"
            f" {peak:8.0f} {peak / base['peak']:6.2f} {agree:7.4f}"
        )


if __name__ == "__main__":
    main()
