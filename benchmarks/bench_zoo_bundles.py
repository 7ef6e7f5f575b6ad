"""Every MONAI Model Zoo bundle of ``../shared/zoo`` through ``monai-ext infer``, untrusted and trusted: does it run,
how long does one process take, how much memory does it peak at.

Each bundle gets its network's own random weights and a small real volume (the crops the tests use: a 96x96x24
chest CT crop, a 40x40x5 head MR crop, four copies of the Prisma T1 series for BraTS with roi 256x256x40), and
runs in a fresh process (``python -m monai_ext.cli.main infer``; untrusted bundles in the sandbox's child
process). Prints one row per bundle: the outcome untrusted and trusted (``ok`` or the typed error), and the wall
time and peak RSS of the run that succeeded (trusted when untrusted is refused).

Usage: ``PYTHONPATH=. python benchmarks/bench_zoo_bundles.py``
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from child_process import run_measured

REPO = Path(__file__).resolve().parents[1]
ZOO = REPO.parent / "shared" / "zoo"
DATA = REPO.parent / "shared" / "data" / "dicom"
MR_SERIES = DATA / "mr-head-t1-sag-siemens-prisma" / "dicom"
BUNDLES = {  # bundle: (input, extra arguments)
    "spleen_ct_segmentation": ("ct", []),
    "brats_mri_segmentation": ("mr4", ["--override", "inferer#roi_size=[256,256,40]"]),
    "prostate_mri_anatomy": ("mr", []),
    "segmentation_template": ("ct", []),
    "renalStructures_UNEST_segmentation": ("ct_small", []),
    "classification_template": ("ct", []),
}


def _weights(bundle: Path) -> None:
    from monai.bundle import ConfigParser

    from monai_ext.bundle.zoo.scripts import bundle_code

    config = next(
        bundle / "configs" / n for n in ("inference.json", "inference.yaml") if (bundle / "configs" / n).exists()
    )
    parser = ConfigParser()
    parser.read_config(str(config))
    parser["bundle_root"] = str(bundle)
    torch.manual_seed(2)
    with bundle_code(bundle):
        state = parser.get_parsed_content("network_def").state_dict()
    (bundle / "models").mkdir(exist_ok=True)
    torch.save(state, bundle / "models" / "model.pt")


def _crop(series: Path, start: tuple[int, ...], size: tuple[int, ...], out: Path) -> Path:
    from monai_ext.io.dicom.load import load_dicom_series

    volume = load_dicom_series(series)
    index = tuple(slice(s, s + n) for s, n in zip(start, size, strict=True))
    affine = volume.affine.copy()
    affine[:3, 3] = volume.affine[:3, :3] @ np.asarray(start, dtype=np.float64) + volume.affine[:3, 3]
    nib.save(nib.Nifti1Image(np.ascontiguousarray(volume.array[index], dtype=np.float32), affine), out)
    return out


def _inputs(root: Path) -> dict[str, list[str]]:
    ct = _crop(DATA / "ct-chest-lidc0314-slab", (216, 216, 20), (96, 96, 24), root / "ct.nii.gz")
    small = _crop(DATA / "ct-chest-lidc0314-slab", (232, 232, 20), (64, 64, 24), root / "ct_small.nii.gz")
    mr = _crop(MR_SERIES, (108, 108, 15), (40, 40, 5), root / "mr.nii.gz")
    return {"ct": [str(ct)], "ct_small": [str(small)], "mr": [str(mr)], "mr4": [str(MR_SERIES)] * 4}


def _run(command: list[str], env: dict[str, str]) -> tuple[str, float, float]:
    code, wall, peak, text = run_measured(command, env)
    if code == 0:
        return "ok", wall, peak
    errors = re.findall(r"error: (\w+)", text)
    return (errors[-1] if errors else f"exit {code} (traceback)"), wall, peak


def main() -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONWARNINGS="ignore")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_zoo_bundles_") as tmp:
        root = Path(tmp)
        inputs = _inputs(root)
        for name, (source, extra) in BUNDLES.items():
            bundle = root / name
            shutil.copytree(ZOO / name, bundle)
            _weights(bundle)
            outcome = {}
            for trusted in (False, True):
                command = [
                    sys.executable,
                    "-m",
                    "monai_ext.cli.main",
                    "infer",
                    *inputs[source],
                    "--bundle",
                    str(bundle),
                ]
                command += ["--out", str(root / f"{name}_{trusted}"), "--no-montage", "--device", "cpu", *extra]
                outcome[trusted] = _run([*command, "--trusted"] if trusted else command, env)
            best = outcome[False] if outcome[False][0] == "ok" else outcome[True]
            rows.append((name, outcome[False][0], outcome[True][0], best[1], best[2]))
    print(f"MONAI Model Zoo bundles through monai-ext infer (CPU, {torch.get_num_threads()} threads, one run each)")
    print(f"{'bundle':36s} {'untrusted':>24s} {'trusted':>24s} {'time s':>7s} {'peak MB':>8s}")
    for name, untrusted, trusted, wall, peak in rows:
        print(f"{name:36s} {untrusted:>24s} {trusted:>24s} {wall:7.1f} {peak:8.0f}")


if __name__ == "__main__":
    main()
