"""Benchmark: training throughput of the classification bundle against a MONAI tutorial-style loop.

Run from the repository root::

    .venv/bin/python benchmarks/bench_train_throughput.py            # 3 rounds x 12 timed iterations each
    .venv/bin/python benchmarks/bench_train_throughput.py --quick    # 1 round x 4 iterations

Both pipelines train the same network (the bundle's ``network_def``: ``monai_ext.networks.Classifier``) on
the same real cases (the first ``--cases`` of AdrenalMNIST3D 64^3 train), batch 32, AdamW, weighted
cross-entropy, rotation (+-15 deg) / shift (+-10 %) with probability 1/2 and random flips on 3 axes:

* ``tutorial``: the MONAI tutorial pattern: ``monai.data.Dataset`` over the uint8 arrays with per-sample
  transforms (``ScaleIntensity``, the distance channel ``MaskDistance``, ``RandAffine``, ``RandFlip`` x 3)
  in a ``DataLoader`` with ``--workers`` worker processes, contiguous memory format, a plain Python loop;
* ``bundle``: the bundle's own ``train#trainer`` (MONAI ``SupervisedTrainer``) built from
  ``configs/train.json`` by ``ConfigParser``: preprocessing cached once in memory, batched augmentation on
  the device (``RandBatchAugment`` in ``AugmentedBatch``) and ``channels_last_3d``; validation handlers off.

Each round times ``--iters`` iterations after 2 warm-up iterations, alternating the two pipelines, and the
table reports the median samples/s over rounds and the ratio bundle / tutorial (target >= 1.5).
"""

from __future__ import annotations

import math
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from monai.bundle import ConfigParser
from monai.data import DataLoader, Dataset
from monai.transforms import Compose, EnsureChannelFirstd, RandAffined, RandFlipd, ScaleIntensityd
from trainer_timing import bundle_trainer, iteration_args, timed_iterations

from monai_ext.transforms import MaskDistanced

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "bundles" / "adrenal_hyperplasia_classifier_3d"
DATA = REPO.parent / "shared" / "data" / "medmnist3d" / "adrenalmnist3d_64_trainval.npz"
BATCH = 32


def tutorial_rate(images: np.ndarray, labels: np.ndarray, iters: int, workers: int) -> float:
    """Samples/s of the tutorial loop (per-sample transforms in DataLoader workers)."""
    transforms = Compose(
        [
            EnsureChannelFirstd(keys="image", channel_dim="no_channel"),
            ScaleIntensityd(keys="image", minv=0.0, maxv=1.0),
            MaskDistanced(keys="image", max_distance=6),
            RandAffined(
                keys="image",
                prob=0.5,
                rotate_range=[math.radians(15)] * 3,
                translate_range=[6.4] * 3,
                padding_mode="zeros",
            ),
            *[RandFlipd(keys="image", prob=0.5, spatial_axis=axis) for axis in range(3)],
        ]
    )
    data = [{"image": images[i].astype(np.float32), "label": int(labels[i])} for i in range(len(images))]
    loader = DataLoader(Dataset(data, transforms), batch_size=BATCH, shuffle=True, num_workers=workers, drop_last=True)
    net = _network()
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, 1.9]))
    times: list[float] = []
    while len(times) < iters + 2:
        start = time.perf_counter()
        for batch in loader:
            optimizer.zero_grad()
            loss = loss_fn(net(batch["image"].as_tensor()), batch["label"])
            loss.backward()
            optimizer.step()
            now = time.perf_counter()
            times.append(now - start)
            start = now
            if len(times) >= iters + 2:
                break
    return BATCH * iters / sum(times[2:])


def _network() -> torch.nn.Module:
    parser = ConfigParser(ConfigParser.load_config_file(BUNDLE / "configs" / "train.json"))
    return parser.get_parsed_content("network_def").train()


def bundle_rate(data: Path, cases: int, iters: int) -> float:
    """Samples/s of the bundle's SupervisedTrainer (time between iteration ends, warm-up excluded)."""
    overrides = {"max_epochs": 1000, "output_dir": "/tmp/bench_train_throughput"}
    trainer = bundle_trainer(BUNDLE, data, cases, overrides)
    return BATCH * iters / timed_iterations(trainer, iters)


def main() -> None:
    args = iteration_args(__doc__, data=DATA, cases=256, rounds=3, workers=2)
    if not args.data.is_file():
        raise SystemExit(f"real data not found: {args.data}")
    with np.load(args.data) as archive:
        images = archive["train_images"][: args.cases]
        labels = archive["train_labels"][: args.cases, 0]
    results: dict[str, list[float]] = {"tutorial": [], "bundle": []}
    for _ in range(args.rounds):
        results["tutorial"].append(tutorial_rate(images, labels, args.iters, args.workers))
        results["bundle"].append(bundle_rate(args.data, args.cases, args.iters))
    print(f"\ntorch {torch.__version__}, threads {torch.get_num_threads()}, batch {BATCH}, {args.cases} cases")
    print(f"{'pipeline':<10} {'median samples/s':>17} {'min':>8} {'max':>8}")
    for name, rates in results.items():
        print(f"{name:<10} {statistics.median(rates):>17.1f} {min(rates):>8.1f} {max(rates):>8.1f}")
    ratio = statistics.median(results["bundle"]) / statistics.median(results["tutorial"])
    print(f"ratio bundle / tutorial = {ratio:.2f} (target >= 1.5)")


if __name__ == "__main__":
    main()
