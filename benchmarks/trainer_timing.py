"""Build a bundle's trainer, time its iterations, and the command line of the training-throughput benchmarks."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ignite.engine import Events
from monai.bundle import ConfigParser

__all__ = ["bundle_trainer", "iteration_args", "timed_iterations"]


def bundle_trainer(bundle: Path, data: Path, cases: int, overrides: dict[str, Any]) -> Any:
    """``bundle``'s ``train#trainer`` from ``configs/train.json`` on its first ``cases`` cases, handlers off.

    Args:
        bundle: the bundle folder (its ``bundle_root``).
        data: the ``dataset_path``.
        cases: the ``train_limit``.
        overrides: further config keys (e.g. ``output_dir``, ``max_epochs``, ``cpu_amp``).
    """
    parser = ConfigParser()
    parser.read_config(bundle / "configs" / "train.json")
    keys = {"bundle_root": str(bundle), "dataset_path": str(data), "train_limit": cases, "train#handlers": []}
    parser.update({**keys, **overrides})
    return parser.get_parsed_content("train#trainer")


def timed_iterations(trainer: Any, iters: int) -> float:
    """Seconds ``trainer`` takes for ``iters`` iterations (between iteration ends) after 2 warm-up iterations.

    The trainer is stopped after them; a later call resumes it where it stopped (ignite keeps its state).
    """
    stamps: list[float] = []

    def stamp(engine: Any) -> None:
        stamps.append(time.perf_counter())
        if len(stamps) >= iters + 3:
            engine.terminate()

    handle = trainer.add_event_handler(Events.ITERATION_COMPLETED, stamp)
    trainer.run()
    handle.remove()
    return stamps[-1] - stamps[2]


def iteration_args(doc: str | None, *, data: Path, cases: int, rounds: int, workers: int | None = None) -> Any:
    """Parsed ``--data --cases --iters --rounds [--workers] --quick``; ``--quick`` means 1 round of 4 iterations."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=data)
    parser.add_argument("--cases", type=int, default=cases)
    parser.add_argument("--iters", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=rounds)
    if workers is not None:
        parser.add_argument("--workers", type=int, default=workers)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.iters, args.rounds = 4, 1
    return args
