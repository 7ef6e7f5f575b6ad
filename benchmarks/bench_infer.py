"""Benchmark: end-to-end inference, a DICOM folder to result.json + heatmap NIfTI, against forward + heatmap alone.

Run from the repository root::

    .venv/bin/python benchmarks/bench_infer.py              # 5 rounds after 1 warm-up
    .venv/bin/python benchmarks/bench_infer.py --rounds 9

The classification bundle (loaded once, untrusted, CPU) runs with Grad-CAM on:

* ``sample``: the right gland of the embedded sample (``monai-ext sample``: a GAN-drawn gland segmented in an
  abdomen-like CT of 300 x 300 x 120 voxels at 0.7 x 0.7 x 2.5 mm), as a binary NIfTI mask;
* ``ct-slab``: the real 512x512x64 LIDC chest CT slab in ``../shared/data`` when present, thresholded at 300 HU
  into a mask (bone, not a gland, so the prediction means nothing; it measures the cost of a scanner-sized grid
  and of resampling the map back to 512x512x64).

A second model shows how the fixed costs weigh against a network of typical size: a bundle built here with
MONAI's ``DenseNet121`` (3D, 96^3 input, random weights, loaded untrusted like any other bundle), Grad-CAM on
``class_layers.relu``.

Per round and input, ``core`` is the network forward plus the Grad-CAM heatmap (the model's own cost), and
``end to end`` is everything a user waits for after the bundle is loaded: DICOM scan and read, preprocessing,
forward, heatmap, resampling to the input grid, writing the heatmap NIfTI and result.json (no PNG montage;
``--montage`` adds it). Rounds alternate the inputs; the table gives medians and the ratio (target <= 2).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from monai_ext.bundle.outputs.write import write_outputs
from monai_ext.bundle.per_label import load_label_map
from monai_ext.bundle.runner import BundleRunner
from monai_ext.cli.sample import LABELS, make_sample
from monai_ext.io.dicom.load import load_dicom_series
from monai_ext.io.nifti import save_nifti
from monai_ext.io.volume import Volume

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "bundles" / "adrenal_hyperplasia_classifier_3d"
CT_SLAB = REPO.parent / "shared" / "data" / "dicom" / "ct-chest-lidc0314-slab"


def one_round(runner: BundleRunner, source: Path, out: Path, montage: bool) -> tuple[float, float]:
    """``(core seconds, end-to-end seconds)`` of one run."""
    start = time.perf_counter()
    result = runner.run(source)
    write_outputs(result, out, bundle=runner.bundle, montage=montage)
    total = time.perf_counter() - start
    return result.timings["forward"] + result.timings["heatmap"], total


def densenet_bundle(folder: Path) -> Path:
    """A classifier bundle around MONAI's DenseNet121-3D (random weights, 96^3), beside the shipped metadata."""
    import hashlib
    import json
    import shutil

    from monai.networks.nets import DenseNet121

    (folder / "models").mkdir(parents=True)
    shutil.copytree(BUNDLE / "configs", folder / "configs", ignore=shutil.ignore_patterns("*train*", "evaluate.json"))
    metadata = json.loads((folder / "configs" / "metadata.json").read_text())
    metadata["name"] = "DenseNet121-3D benchmark (random weights)"
    metadata["network_data_format"]["inputs"]["image"].update(num_channels=1, spatial_shape=[96, 96, 96])
    (folder / "configs" / "metadata.json").write_text(json.dumps(metadata))
    config = json.loads((folder / "configs" / "inference.json").read_text())
    config["network_def"] = {"_target_": "DenseNet121", "spatial_dims": 3, "in_channels": 1, "out_channels": 2}
    config["spatial_size"] = [96, 96, 96]
    config["preprocessing"]["transforms"] = config["preprocessing"]["transforms"][:2]  # no distance channel
    config["centre_voxel"] = None  # the middle of the 96^3 cube
    config["explain_target_layer"] = "class_layers.relu"
    (folder / "configs" / "inference.json").write_text(json.dumps(config))
    torch.manual_seed(0)
    torch.save(DenseNet121(spatial_dims=3, in_channels=1, out_channels=2).state_dict(), folder / "models" / "model.pt")
    digest = hashlib.sha256((folder / "models" / "model.pt").read_bytes()).hexdigest()
    (folder / "models" / "model.pt.sha256").write_text(f"{digest}  model.pt\n")
    return folder


def sample_gland(work: Path) -> Path:
    """The embedded sample's right gland (label 1) as a binary mask NIfTI on the sample CT's grid."""
    paths = make_sample(work / "sample")
    label_map = load_label_map(paths["labels"])
    mask = (label_map[0].numpy() == LABELS["adrenal_gland_right"]).astype(np.uint8)
    return save_nifti(Volume(array=mask, affine=np.asarray(label_map.affine)), work / "gland.nii.gz", sidecar=False)


def slab_mask(work: Path) -> Path:
    """The LIDC slab thresholded at 300 HU, as a mask NIfTI (a scanner-sized grid)."""
    volume = load_dicom_series(CT_SLAB)
    mask = (volume.array > 300).astype(np.uint8)
    return save_nifti(Volume(array=mask, affine=volume.affine), work / "slab_mask.nii.gz", sidecar=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--montage", action="store_true", help="also write the PNG montage")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="bench_infer_"))
    start = time.perf_counter()
    runners = {"classifier (shipped)": BundleRunner(BUNDLE, device="cpu")}
    load_seconds = time.perf_counter() - start
    runners["DenseNet121-3D 96^3"] = BundleRunner(densenet_bundle(work / "densenet"), device="cpu")
    inputs = {"sample gland (300x300x120 NIfTI)": sample_gland(work)}
    if CT_SLAB.is_dir():
        inputs["ct-slab bone mask (512x512x64 NIfTI)"] = slab_mask(work)
    cases = [(model, name) for model in runners for name in inputs]
    times: dict[tuple[str, str], list[tuple[float, float]]] = {case: [] for case in cases}
    for round_index in range(args.rounds + 1):
        for model, name in cases:
            measured = one_round(runners[model], inputs[name], work / "out" / str(round_index), args.montage)
            if round_index > 0:  # round 0 warms up
                times[(model, name)].append(measured)
    print(f"shipped bundle load (metadata schema, safe config, sha256, weights): {load_seconds:.2f} s, once")
    print(f"medians of {args.rounds} rounds, CPU, {args.threads} threads, montage {'on' if args.montage else 'off'}")
    print()
    print("| model | input | forward + heatmap (s) | end to end (s) | ratio (target <= 2) |")
    print("|---|---|---|---|---|")
    for (model, name), pairs in times.items():
        core = statistics.median(p[0] for p in pairs)
        total = statistics.median(p[1] for p in pairs)
        print(f"| {model} | {name} | {core:.3f} | {total:.3f} | {total / core:.2f} |")


if __name__ == "__main__":
    main()
