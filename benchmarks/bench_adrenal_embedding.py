"""Benchmark: the adrenal classifier on validation glands embedded in scanner-like CT grids, against the native cubes.

Run from the repository root (needs ``../shared/data/medmnist3d``)::

    .venv/bin/python benchmarks/bench_adrenal_embedding.py               # all 98 val cases
    .venv/bin/python benchmarks/bench_adrenal_embedding.py --cases 20 --occlusion 6
    .venv/bin/python benchmarks/bench_adrenal_embedding.py --bundles OLD/bundles/CLASSIFIER bundles/CLASSIFIER

Each AdrenalMNIST3D val case (a 64 mm cube at 1 mm) is embedded, with a second val case as the other gland, in
one label map on a scanner-like grid (default 0.7 x 0.7 x 2.5 mm, 300 x 300 x 120, tilted by a random rotation of
up to 25 degrees about each axis, the pair 70 mm apart, placed at random in the middle of the grid). The shipped
classifier bundle then runs through :mod:`monai_ext.bundle.per_label` (one run per label: the dataset's recipe crops
the cube again) and the numbers are compared with the same bundle on the native cube:

* probabilities: the median, 90th percentile and maximum of ``|p_embedded - p_native|`` (hyperplasia), and the
  share of cases within 0.02; the val AUC of both;
* localisation: the share of the heatmap's mass within 5 mm of the gland, on the embedding grid and natively, and
  how many Grad-CAM maps are empty (the bundle's ``explain_baseline``: nothing in the gland raises the score above an
  empty cube's) and how many of those the bundle's ``explain_fallback`` replaced by the occlusion map (the mass
  counted is that of the map the runner returns; an empty map counts as mass 0);
* the AUC difference native - embedded with a paired bootstrap interval over the val cases (is it "the same AUC"?);
* the floor: the same statistics for the native cube moved by one voxel along each axis (the network's own
  sensitivity to where the crop falls, which a 2.5 mm grid cannot pin down below one voxel);
* resampling alone: the native cube resampled on its own 1 mm grid moved by a random fraction of a voxel along each
  axis (trilinear + threshold, as the recipe resamples a mask): what one interpolation of a binary mask costs, with
  no slice lost and no tilt. (Exactly half a voxel is a worst case: the 0.5 threshold then takes every tie in.)

``--occlusion N`` adds the occlusion heatmap's localisation on the first N pairs (slow: about 30 s a run).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import SpatialResample

from monai_ext.bundle.per_label import label_choices, run_labels
from monai_ext.bundle.result import RunResult
from monai_ext.bundle.runner import BundleRunner
from monai_ext.data.npz import load_npz_split
from monai_ext.data.scanner_grid import PlacedMask, embed_masks, scanner_affine
from monai_ext.explain.map_quality.localisation import mass_near_mask
from monai_ext.metrics.bootstrap import bootstrap_ci
from monai_ext.metrics.classification import roc_auc
from monai_ext.transforms import MaskDistance

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "bundles" / "adrenal_hyperplasia_classifier_3d"
DATA = REPO.parent / "shared" / "data" / "medmnist3d" / "adrenalmnist3d_64_trainval.npz"


def random_grid(rng: np.random.Generator, shape: tuple[int, ...], spacing: tuple[float, ...]) -> np.ndarray:
    """A scanner grid tilted at random (up to 25 degrees about each axis) around the origin."""
    return scanner_affine(shape=shape, spacing=spacing, degrees=tuple(rng.uniform(-25, 25, 3)))


def pair_centres(rng: np.random.Generator, affine: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Two cube centres 70 mm apart along R (left and right glands), anywhere in the middle fifth of the grid.

    The pair's middle is drawn in voxel space, so both 64 mm cubes stay inside the tilted grid.
    """
    voxel = (np.array(shape) - 1) * (0.5 + rng.uniform(-0.1, 0.1, 3))
    centre = affine[:3, :3] @ voxel + affine[:3, 3]
    return centre + np.array([35.0, 0.0, 0.0]), centre - np.array([35.0, 0.0, 0.0])


Outcome = tuple[float, float, bool, bool]  # p_hyperplasia, heatmap mass within 5 mm, Grad-CAM empty, fallback used


def outcome(runner: BundleRunner, result: RunResult, mask: np.ndarray, spacing: tuple[float, ...]) -> Outcome:
    """What one run gives: the probability, the returned map's mass near ``mask``, and what became of Grad-CAM."""
    heat = result.maps["heatmap"].as_tensor()[0].numpy()
    fallback = result.heatmap_method != runner.heatmap
    empty = fallback or not heat.any()
    return result.probabilities[1], mass_near_mask(heat, mask, spacing), empty, fallback


def native(runner: BundleRunner, mask: np.ndarray) -> Outcome:
    """The native cube through the runner (an exact crop)."""
    return outcome(runner, runner.run((mask, np.eye(4))), mask, (1.0, 1.0, 1.0))


def moved_by_one_voxel(runner: BundleRunner, mask: np.ndarray) -> float:
    """``p_hyperplasia`` of the native cube moved by one voxel along each axis, straight into the network."""
    return network_p(runner, torch.from_numpy(np.roll(mask, (1, 1, 1), axis=(0, 1, 2)))[None])


def network_p(runner: BundleRunner, mask: torch.Tensor) -> float:
    """``p_hyperplasia`` of a ``(1, 64, 64, 64)`` cube straight into the network (mask + distance channel)."""
    with torch.no_grad():
        logits = runner.bundle.network.cpu().eval()(MaskDistance(max_distance=6)(mask)[None])
    return float(torch.softmax(logits, dim=1)[0, 1])


def resampled_off_grid(runner: BundleRunner, mask: np.ndarray, offset: np.ndarray) -> float:
    """``p_hyperplasia`` of the native cube resampled on a 1 mm grid moved by ``offset`` voxels (a fraction).

    No slice is lost and nothing tilts: trilinear interpolation and the 0.5 threshold only move boundary voxels,
    as every resampling of a binary mask does (the embedding does it twice: onto the scanner grid and back).
    """
    grid = np.eye(4)
    grid[:3, 3] = offset
    source = MetaTensor(torch.from_numpy(mask)[None], affine=torch.eye(4, dtype=torch.float64))
    moved = SpatialResample(mode="bilinear", padding_mode="zeros", dtype=np.float64)(
        source, dst_affine=torch.as_tensor(grid), spatial_size=mask.shape
    )
    return network_p(runner, (torch.as_tensor(moved) >= 0.5).float())


def embedded_pairs(
    runner: BundleRunner, masks: np.ndarray, args: argparse.Namespace
) -> tuple[dict[int, Outcome], list[float]]:
    """Every case once in a two-gland label map; returns case -> its :data:`Outcome` and run seconds per gland."""
    rng = np.random.default_rng(args.seed)
    shape, spacing = tuple(args.shape), tuple(args.spacing)
    half = (len(masks) + 1) // 2
    out: dict[int, Outcome] = {}
    seconds: list[float] = []
    for a in range(half):
        pair = [a, a + half] if a + half < len(masks) else [a]
        affine = random_grid(rng, shape, spacing)
        centres = pair_centres(rng, affine, shape)
        placed = {n + 1: PlacedMask(mask=masks[c], centre=centres[n]) for n, c in enumerate(pair)}
        labels = embed_masks(placed, affine, shape)
        label_map = MetaTensor(torch.from_numpy(labels.astype(np.float32))[None], affine=torch.as_tensor(affine))
        start = time.perf_counter()
        results = run_labels(runner, label_map, label_choices(label_map))
        seconds.append((time.perf_counter() - start) / len(results))
        if len(results) != len(pair):
            raise RuntimeError(f"pair {pair}: a gland fell outside the grid")
        for choice, result in results:
            out[pair[choice.value - 1]] = outcome(runner, result, labels == choice.value, spacing)
        print(f"  pair {a + 1}/{half}: {len(results)} glands, {seconds[-1]:.1f} s per gland", flush=True)
    return out, seconds


def auc_difference(labels: np.ndarray, p_native: np.ndarray, p_embedded: np.ndarray) -> float:
    """AUC on the native cubes minus AUC on the embedded glands (NaN for a resample without both classes)."""
    return roc_auc(labels, p_native) - roc_auc(labels, p_embedded)


def summary(name: str, diffs: np.ndarray) -> str:
    d = np.abs(diffs)
    share = np.mean(d <= 0.02) * 100
    return f"| {name} | {np.median(d):.4f} | {np.quantile(d, 0.9):.4f} | {d.max():.4f} | {share:.0f} % |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=None, help="first N val cases (default: all 98)")
    parser.add_argument("--shape", type=int, nargs=3, default=[300, 300, 120])
    parser.add_argument("--spacing", type=float, nargs=3, default=[0.7, 0.7, 2.5])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--occlusion", type=int, default=0, help="occlusion localisation on the first N pairs")
    parser.add_argument(
        "--weights",
        nargs="+",
        type=Path,
        default=[BUNDLE / "models" / "model.pt"],
        help="classifier weight files to compare side by side on the same grids (default: the shipped model.pt)",
    )
    parser.add_argument(
        "--bundles",
        nargs="+",
        type=Path,
        default=None,
        help="instead of --weights: classifier bundle folders (each with its own configs and models/model.pt), "
        "e.g. a worktree of an older release, to compare different architectures on the same grids",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images, labels = load_npz_split(DATA, "val")
    masks = (images[: args.cases] > 127).astype(np.float32)
    labels = labels[: args.cases]
    print(f"{len(masks)} val cases; grid {args.shape} at {args.spacing} mm, random tilt <= 25 deg, two glands a map")
    if args.bundles:
        for bundle in args.bundles:
            print(f"\n## bundle {bundle}")
            report(BundleRunner(bundle, device="cpu"), masks, labels, args)
        return
    for weights in args.weights:
        print(f"\n## weights {weights}")
        runner = BundleRunner(BUNDLE, device="cpu")
        runner.bundle.network.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        report(runner, masks, labels, args)


def report(runner: BundleRunner, masks: np.ndarray, labels: np.ndarray, args: argparse.Namespace) -> None:
    """Print the probability and localisation tables of one classifier (the embedding grids are seeded)."""
    base = [native(runner, m) for m in masks]
    moved = [moved_by_one_voxel(runner, m) for m in masks]
    offsets = np.random.default_rng(args.seed + 1).uniform(0.0, 1.0, (len(masks), 3))
    resampled = [resampled_off_grid(runner, m, o) for m, o in zip(masks, offsets, strict=True)]
    embedded, seconds = embedded_pairs(runner, masks, args)
    p_native = np.array([b[0] for b in base])
    p_embedded = np.array([embedded[i][0] for i in range(len(masks))])
    print()
    print("| comparison | median abs dp | p90 | max | within 0.02 |")
    print("|---|---|---|---|---|")
    print(summary("embedded scanner grid vs native 64^3", p_embedded - p_native))
    print(summary("native moved by (1, 1, 1) voxel vs native (floor)", np.array(moved) - p_native))
    print(summary("native resampled off its grid (trilinear + threshold) vs native", np.array(resampled) - p_native))
    print()
    print("| input | val AUC | heatmap mass within 5 mm: median | min | cases >= 0.8 | empty Grad-CAM maps |"
          " replaced by the fallback |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for name, p, runs in (
        ("native 64^3 cubes", p_native, base),
        ("embedded in scanner grids", p_embedded, [embedded[i] for i in range(len(masks))]),
    ):
        mass_arr = np.array([run[1] for run in runs])
        print(
            f"| {name} | {roc_auc(labels, p):.4f} | {np.median(mass_arr):.3f} | {mass_arr.min():.3f} |"
            f" {np.mean(mass_arr >= 0.8) * 100:.0f} % | {sum(run[2] for run in runs)} | {sum(run[3] for run in runs)} |"
        )
    low, high = bootstrap_ci(auc_difference, labels, p_native, p_embedded)
    print(f"\nAUC native - embedded: {auc_difference(labels, p_native, p_embedded):+.4f}, "
          f"paired 95 % bootstrap interval over cases [{low:+.4f}, {high:+.4f}]")  # fmt: skip
    print(f"\nper gland on the scanner grid (label map in memory, recipe, Grad-CAM, map back): "
          f"median {statistics.median(seconds):.2f} s")  # fmt: skip
    if args.occlusion:
        occlusion = BundleRunner(BUNDLE, device="cpu", heatmap="occlusion")
        occlusion.bundle.network.load_state_dict(runner.bundle.network.state_dict())
        sub = argparse.Namespace(**{**vars(args), "seed": args.seed})
        occ, _ = embedded_pairs(occlusion, masks[: 2 * args.occlusion], sub)
        mass = np.array([v[1] for v in occ.values()])
        print(f"occlusion heatmap, {len(mass)} embedded glands: mass within 5 mm median {np.median(mass):.3f}, "
              f"min {mass.min():.3f}, >= 0.8 in {np.mean(mass >= 0.8) * 100:.0f} %")  # fmt: skip


if __name__ == "__main__":
    main()
