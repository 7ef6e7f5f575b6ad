"""Record training losses per iteration and epoch, save them as JSON and plot them as a PNG."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ignite.engine import Engine, Events

from monai_ext.io.atomic import atomic_path, atomic_write_text

__all__ = ["LossHistory", "load_loss_history", "plot_loss_curves"]


class LossHistory:
    """Keep the named scalar losses of ``engine.state.output`` and write ``loss_history.json`` + ``loss_curves.png``.

    The history is ``{"iteration": {name: [[iteration, value], ...]},
    "epoch": {name: [[epoch, mean, last_iteration], ...]}}``.
    It has ``state_dict``/``load_state_dict``, so a resumed run (see
    :class:`~monai_ext.engines.ResumeCheckpoint`) continues the same curves.

    Args:
        output_dir: folder of the JSON and PNG (``None``: keep in memory only).
        keys: loss names to read from the output (a dict, or a one-item list of dicts).
        save: whether this process writes (``False`` on DDP ranks other than 0).
        plot: also write the PNG after every epoch.
    """

    json_name = "loss_history.json"
    png_name = "loss_curves.png"

    def __init__(
        self,
        *,
        output_dir: str | os.PathLike[str] | None,
        keys: Sequence[str] = ("g_loss", "d_loss"),
        save: bool = True,
        plot: bool = True,
    ) -> None:
        self.output_dir = None if output_dir is None else Path(output_dir)
        self.keys = tuple(keys)
        self.save_enabled = save
        self.plot = plot
        self.history: dict[str, dict[str, list[list[float]]]] = {"iteration": {}, "epoch": {}}
        self._epoch_values: dict[str, list[float]] = {}

    def attach(self, engine: Engine) -> None:
        """Record at ``ITERATION_COMPLETED``, summarise and write at ``EPOCH_COMPLETED``."""
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.record)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.summarise)

    def record(self, engine: Engine) -> None:
        """Append this iteration's losses."""
        output: Any = engine.state.output
        item = output[0] if isinstance(output, list) else output
        for key in self.keys:
            value = float(item[key])
            self.history["iteration"].setdefault(key, []).append([engine.state.iteration, value])
            self._epoch_values.setdefault(key, []).append(value)

    def summarise(self, engine: Engine) -> None:
        """Append epoch means, then write the JSON (and PNG)."""
        for key, values in self._epoch_values.items():
            if values:
                mean = sum(values) / len(values)
                self.history["epoch"].setdefault(key, []).append([engine.state.epoch, mean, engine.state.iteration])
        self._epoch_values = {}
        if self.save_enabled and self.output_dir is not None:
            atomic_write_text(self.output_dir / self.json_name, json.dumps(self.history))
            if self.plot:
                plot_loss_curves(self.history, self.output_dir / self.png_name)

    def state_dict(self) -> dict[str, Any]:
        """The history (JSON-compatible)."""
        return {"history": json.dumps(self.history)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the history."""
        self.history = json.loads(state["history"])


def load_loss_history(path: str | os.PathLike[str]) -> dict[str, dict[str, list[list[float]]]]:
    """Read a ``loss_history.json`` written by :class:`LossHistory`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def plot_loss_curves(
    history: Mapping[str, Mapping[str, Sequence[Sequence[float]]]],
    path: str | os.PathLike[str],
    *,
    title: str = "training losses",
) -> Path:
    """Plot per-iteration losses (thin) and epoch means (markers) against the iteration; write a PNG atomically.

    Args:
        history: as kept by :class:`LossHistory`.
        path: output ``.png``.
        title: figure title.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    iterations = history.get("iteration", {})
    epochs = history.get("epoch", {})
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    try:
        for i, (name, points) in enumerate(sorted(iterations.items())):
            colour = f"C{i}"
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, color=colour, alpha=0.35, linewidth=0.8)
            means = epochs.get(name, [])
            if means:
                ax.plot([m[2] for m in means], [m[1] for m in means], "o-", color=colour, label=f"{name} (epoch mean)")
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss")
        ax.set_title(title)
        if iterations:
            ax.legend()
        ax.grid(alpha=0.3)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
    return Path(path)
