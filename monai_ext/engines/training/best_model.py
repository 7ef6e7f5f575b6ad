"""Keep the best weights by a validation metric and stop early when it no longer improves."""

from __future__ import annotations

import hashlib
import logging
import math
import os
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Engine, Events
from torch import nn

from monai_ext.io.atomic import atomic_path, atomic_write_text

__all__ = ["BestModelSaver", "sha256_of"]

logger = logging.getLogger(__name__)


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class BestModelSaver:
    """Attached to a trainer: after each validation, save the network when the metric improved, and
    terminate training after ``patience`` validations without improvement.

    The weights are a plain state dict (``torch.save(network.state_dict())``, loadable with
    ``weights_only=True``), written atomically to ``save_path`` together with ``<save_path>.sha256`` in
    ``sha256sum`` format. A DDP-wrapped network is unwrapped first. Attach it after the
    :class:`~monai.handlers.ValidationHandler` so the validator has run when it fires.

    Args:
        validator: the evaluator whose ``state.metrics`` holds the metric.
        network: the network to save.
        save_path: file of the best weights (e.g. ``models/model.pt``).
        metric_name: key in ``validator.state.metrics`` (default: the validator's key metric).
        mode: ``"max"`` or ``"min"``.
        patience: validations without improvement before stopping; ``0`` disables early stopping.
        interval: validation interval in epochs (the handler fires on the same epochs).
        save: whether this process writes files (``False`` on DDP ranks other than 0).
    """

    def __init__(
        self,
        *,
        validator: Engine,
        network: nn.Module,
        save_path: str | os.PathLike[str],
        metric_name: str | None = None,
        mode: str = "max",
        patience: int = 10,
        interval: int = 1,
        save: bool = True,
    ) -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.validator = validator
        self.network = network
        self.save_path = Path(save_path)
        self.metric_name = metric_name
        self.mode = mode
        self.patience = int(patience)
        self.interval = int(interval)
        self.save_enabled = save
        self.best = -math.inf if mode == "max" else math.inf
        self.best_epoch = 0
        self.bad_validations = 0

    def attach(self, trainer: Engine) -> None:
        """Fire on the trainer's validation epochs."""
        trainer.add_event_handler(Events.EPOCH_COMPLETED(every=self.interval), self)

    def __call__(self, trainer: Engine) -> None:
        """Compare the validator's metric with the best so far; save or count; maybe terminate."""
        name = self.metric_name or getattr(self.validator.state, "key_metric_name", None)
        if name is None or name not in self.validator.state.metrics:
            raise KeyError(f"validation metric {name!r} not found; have {sorted(self.validator.state.metrics)}")
        value = float(self.validator.state.metrics[name])
        if self._improved(value):
            self.best, self.best_epoch, self.bad_validations = value, trainer.state.epoch, 0
            self._save()
            logger.info("epoch %d: new best %s = %.4f, saved %s", trainer.state.epoch, name, value, self.save_path)
            return
        self.bad_validations += 1
        if self.patience and self.bad_validations >= self.patience:
            logger.info(
                "early stop at epoch %d: no %s improvement for %d validations (best %.4f at epoch %d)",
                trainer.state.epoch,
                name,
                self.bad_validations,
                self.best,
                self.best_epoch,
            )
            trainer.terminate()

    def _improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        return value > self.best if self.mode == "max" else value < self.best

    def _save(self) -> None:
        if not self.save_enabled:
            return
        network = getattr(self.network, "module", self.network)  # unwrap DDP
        state = {k: v.detach().cpu() for k, v in network.state_dict().items()}
        with atomic_path(self.save_path) as tmp:
            torch.save(state, tmp)
        atomic_write_text(f"{self.save_path}.sha256", f"{sha256_of(self.save_path)}  {self.save_path.name}\n")

    def state_dict(self) -> dict[str, Any]:
        """Counters for resuming."""
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_validations": self.bad_validations}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the counters."""
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        self.bad_validations = int(state["bad_validations"])
