"""Benchmark: the distance channel (``monai_ext.transforms.mask_distance``) on real mask batches, side by side.

Run from the repository root::

    .venv/bin/python benchmarks/bench_mask_distance.py            # 7 rounds
    .venv/bin/python benchmarks/bench_mask_distance.py --quick    # 2 rounds

Rows, on batches of 32 real AdrenalMNIST3D masks (64^3 at 1 mm, max_distance 6, and 28^3, max_distance 2.625;
``channels_last_3d`` as the classifier's training batch):

* ``float32 minimum (0.5.2)``: the erosion as written until this benchmark: pad the float32 mask with zeros and
  take the ``torch.minimum`` of its six shifted copies, over the whole volume;
* ``monai_ext``: :func:`~monai_ext.transforms.mask_distance`: boolean erosions in place, inside the batch's bounding
  box only;
* ``scipy cdt``: SciPy's ``distance_transform_cdt(metric="taxicab")`` per mask (zero-padded, clipped), the exact
  reference; every row is checked equal to it before timing.

Rounds alternate the rows; the table reports the median seconds per batch and the ratio to the first row.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from monai_ext.transforms import mask_distance

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "medmnist3d"
# file and max_distance in voxels: 6 mm at 1 mm, and at 64/28 mm (the classifier's max_distance_mm)
FILES = {64: ("adrenalmnist3d_64_trainval.npz", 6.0), 28: ("adrenalmnist3d_trainval.npz", 2.625)}


def float32_minimum(mask: torch.Tensor, *, max_distance: float) -> torch.Tensor:
    """The previous implementation: zero-padded float32 ``minimum`` of six shifts per erosion, whole volume."""
    current = (mask > 0.5).float()
    depth = torch.zeros_like(current)
    for _ in range(math.ceil(max_distance)):
        if not current.any():
            break
        depth += current
        p = F.pad(current, (1, 1, 1, 1, 1, 1), value=0.0)
        core = p[..., 1:-1, 1:-1, 1:-1]
        for n in (p[..., :-2, 1:-1, 1:-1], p[..., 2:, 1:-1, 1:-1], p[..., 1:-1, :-2, 1:-1],
                  p[..., 1:-1, 2:, 1:-1], p[..., 1:-1, 1:-1, :-2], p[..., 1:-1, 1:-1, 2:]):  # fmt: skip
            core = torch.minimum(core, n)
        current = core
    return (depth / max_distance).clamp(max=1.0)


def scipy_cdt(mask: torch.Tensor, *, max_distance: float) -> torch.Tensor:
    """SciPy's city-block distance transform per mask: outside the volume is background."""
    out = np.empty(mask.shape, np.float32)
    inside = (mask > 0.5).numpy()
    for b in range(mask.shape[0]):
        for c in range(mask.shape[1]):
            distance = ndimage.distance_transform_cdt(np.pad(inside[b, c], 1), metric="taxicab")[1:-1, 1:-1, 1:-1]
            out[b, c] = np.minimum(np.minimum(distance, math.ceil(max_distance)) / max_distance, 1.0)
    return torch.from_numpy(out)


ROWS: dict[str, Callable[..., torch.Tensor]] = {
    "float32 minimum (0.5.2)": float32_minimum,
    "monai_ext": mask_distance,
    "scipy cdt": scipy_cdt,
}


def batch(size: int) -> tuple[torch.Tensor, float]:
    """32 real masks of the ``size``^3 file as a channels-last ``(32, 1, size, size, size)`` float32 batch."""
    name, max_distance = FILES[size]
    images = np.load(DATA / name)["train_images"][:32].astype(np.float32)
    masks = torch.from_numpy(images / images.max())[:, None]
    return masks.contiguous(memory_format=torch.channels_last_3d), max_distance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds = 2 if args.quick else args.rounds
    if not DATA.is_dir():
        raise SystemExit(f"real data not found: {DATA}")
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads {args.threads}, batch 32, {rounds} rounds")
    print(f"{'masks':<8} {'row':<26} {'median s':>9} {'vs first':>9}")
    for size in FILES:
        masks, max_distance = batch(size)
        reference = scipy_cdt(masks, max_distance=max_distance)
        for name, row in ROWS.items():
            if not torch.equal(row(masks, max_distance=max_distance), reference):
                raise SystemExit(f"{name} differs from SciPy's distance transform on the {size}^3 masks")
        seconds: dict[str, list[float]] = {name: [] for name in ROWS}
        for _ in range(rounds):
            for name, row in ROWS.items():
                start = time.perf_counter()
                row(masks, max_distance=max_distance)
                seconds[name].append(time.perf_counter() - start)
        first = statistics.median(seconds[next(iter(ROWS))])
        for name, values in seconds.items():
            median = statistics.median(values)
            print(f"{size}^3{'':<4} {name:<26} {median:>9.4f} {first / median:>8.2f}x")


if __name__ == "__main__":
    main()
