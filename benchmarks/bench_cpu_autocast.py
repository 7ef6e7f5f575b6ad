"""Benchmark: training in float32 against bfloat16 CPU autocast, the hippocampus bundle's own trainer, side by side.

Run from the repository root::

    .venv/bin/python benchmarks/bench_cpu_autocast.py             # 5 rounds x 12 timed iterations each
    .venv/bin/python benchmarks/bench_cpu_autocast.py --quick     # 1 round x 4 iterations

Both rows build ``train#trainer`` (MONAI ``SupervisedTrainer``) from
``bundles/hippocampus_mr_segmentation_3d/configs/train.json`` with ``ConfigParser`` on the first ``--cases`` real
MSD Task04 training cases (cached preprocessing, the training augmentations in a data-loader worker, batch 8 of
40x56x40 crops, ``channels_last_3d``; validation and other handlers off). They differ only in ``cpu_amp``:
``float32`` sets it false; ``bfloat16`` true (``monai_ext.engines.CpuAutocastIteration``: convolutions in
bfloat16, loss and weights in float32). Rounds alternate the two; each times ``--iters`` iterations (between
iteration ends, after 2 warm-up iterations). ``step`` times the network's forward, loss, backward and optimiser step
alone on one fixed batch (no data loading). ``loss`` is the training loss of the shipped weights
(``models/model.pt``, eval mode) on the same fixed batch in each precision. Needs a CPU with native bfloat16 for
a speed-up (``monai_ext.engines.cpu_amp_enabled``; printed).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import torch
from trainer_timing import bundle_trainer, iteration_args, timed_iterations

from monai_ext.engines import CpuAutocastIteration, cpu_amp_enabled

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "bundles" / "hippocampus_mr_segmentation_3d"
DATA = REPO.parent / "shared" / "data" / "hippocampus-msd"
PRECISIONS = {"float32": False, "bfloat16": True}


def build_trainer(data: Path, cases: int, cpu_amp: bool) -> Any:
    """The bundle's ``train#trainer`` on ``cases`` cases, handlers off, with ``cpu_amp`` as given."""
    overrides = {
        "test_cases": 30,
        "val_cases": 20,
        "device": "$torch.device('cpu')",
        "cpu_amp": cpu_amp,
        "output_dir": "/tmp/bench_cpu_autocast",
    }
    return bundle_trainer(BUNDLE, data, cases, overrides)


def trainer_rate(trainer: Any, iters: int) -> float:
    """Iterations/s of ``iters`` iterations after 2 warm-up ones (the trainer resumes where it stopped)."""
    return iters / timed_iterations(trainer, iters)


def fixed_batch(trainer: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """One augmented training batch ``(B, 1, 40, 56, 40)`` image and label from the trainer's loader."""
    batch = next(iter(trainer.data_loader))
    image = batch["image"].as_tensor() if hasattr(batch["image"], "as_tensor") else batch["image"]
    label = batch["label"].as_tensor() if hasattr(batch["label"], "as_tensor") else batch["label"]
    return image.to(memory_format=torch.channels_last_3d), label


def one_step(trainer: Any, batch: tuple[torch.Tensor, torch.Tensor], bf16: bool) -> tuple[float, float]:
    """Seconds of forward, loss, backward and step on ``batch``, and the loss (network in train mode)."""
    network, optimizer, loss_function = trainer.network, trainer.optimizer, trainer.loss_function
    network.train()
    start = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = loss_function(network(batch[0]), batch[1])
    loss.backward()
    optimizer.step()
    return time.perf_counter() - start, float(loss.detach())


def loss_of(
    trainer: Any, state: dict[str, torch.Tensor], batch: tuple[torch.Tensor, torch.Tensor], bf16: bool
) -> float:
    """The loss of the network with weights ``state`` on ``batch`` (eval-mode batch norm), no update."""
    network = trainer.network
    network.load_state_dict(state)
    network.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        return float(trainer.loss_function(network(batch[0]), batch[1]))


def main() -> None:
    args = iteration_args(__doc__, data=DATA, cases=48, rounds=5)
    if not (args.data / "imagesTr").is_dir():
        raise SystemExit(f"real data not found: {args.data}/imagesTr")
    trainers = {name: build_trainer(args.data, args.cases, amp) for name, amp in PRECISIONS.items()}
    batch = fixed_batch(trainers["float32"])
    rates: dict[str, list[float]] = {name: [] for name in PRECISIONS}
    steps: dict[str, list[float]] = {name: [] for name in PRECISIONS}
    for _ in range(args.rounds):
        for name, amp in PRECISIONS.items():
            rates[name].append(trainer_rate(trainers[name], args.iters))
            steps[name].append(statistics.median(one_step(trainers[name], batch, amp)[0] for _ in range(3)))
    state = torch.load(BUNDLE / "models" / "model.pt", map_location="cpu", weights_only=True)
    losses = {name: loss_of(trainers["float32"], state, batch, amp) for name, amp in PRECISIONS.items()}
    assert isinstance(trainers["bfloat16"]._process_function, CpuAutocastIteration)  # ignite keeps it there
    assert not isinstance(trainers["float32"]._process_function, CpuAutocastIteration)
    print(
        f"\ntorch {torch.__version__}, threads {torch.get_num_threads()}, native bfloat16: "
        f"{cpu_amp_enabled('cpu')}, {args.cases} cases, batch {batch[0].shape[0]} of {tuple(batch[0].shape[2:])}, "
        f"{args.rounds} rounds x {args.iters} iterations"
    )
    print("| precision | trainer iterations/s (median) | min | max | step alone, s (median) | loss on a fixed batch |")
    print("|---|---|---|---|---|---|")
    for name in PRECISIONS:
        r, s = rates[name], steps[name]
        print(
            f"| {name} | {statistics.median(r):.2f} | {min(r):.2f} | {max(r):.2f} | {statistics.median(s):.3f} "
            f"| {losses[name]:.5f} |"
        )
    ratio = statistics.median(rates["bfloat16"]) / statistics.median(rates["float32"])
    step_ratio = statistics.median(steps["float32"]) / statistics.median(steps["bfloat16"])
    print(f"speed-up bfloat16 / float32: trainer {ratio:.2f}x, step alone {step_ratio:.2f}x")


if __name__ == "__main__":
    main()
