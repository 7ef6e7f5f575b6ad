"""Resume a killed training run: save everything needed after each epoch, load it when the run starts again."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Engine, Events

from monai_ext.io.atomic import atomic_path

__all__ = ["ResumeCheckpoint"]

logger = logging.getLogger(__name__)


class ResumeCheckpoint:
    """Keep ``<checkpoint_dir>/last.pt`` up to date and resume from it.

    After every epoch (after validation, early stopping and best-model saving when those handlers were
    attached before this one) the state dicts of ``objects`` (network, optimiser, scheduler, best-model
    tracker, augmentation RNG ...) and the engine's epoch and iteration are written atomically. When the
    engine starts and the file exists, all of it is loaded back (``weights_only=True``) and training
    continues at the next epoch; a run that had finished or stopped early stays finished.

    Args:
        checkpoint_dir: folder of ``last.pt`` (created when needed).
        objects: name -> object with ``state_dict()`` and ``load_state_dict()``.
        enabled: ``False`` makes the handler do nothing (e.g. on DDP ranks other than 0 for saving).
        save: whether this process writes the file (all processes load it).
    """

    filename = "last.pt"

    def __init__(
        self,
        *,
        checkpoint_dir: str | os.PathLike[str],
        objects: Mapping[str, Any],
        enabled: bool = True,
        save: bool = True,
    ) -> None:
        self.path = Path(checkpoint_dir) / self.filename
        self.objects = dict(objects)
        self.enabled = enabled
        self.save_enabled = save
        self.resumed_epoch = 0

    def attach(self, engine: Engine) -> None:
        """Load at ``STARTED``, save at every ``EPOCH_COMPLETED`` and at ``TERMINATE``."""
        if not self.enabled:
            return
        engine.add_event_handler(Events.STARTED, self.load)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.save)

    def load(self, engine: Engine) -> None:
        """Restore every object and the engine's counters from ``last.pt`` if it exists."""
        if not self.path.is_file():
            return
        state = torch.load(self.path, map_location="cpu", weights_only=True)
        missing = sorted(set(self.objects) - set(state))
        if missing:
            raise ValueError(f"{self.path}: checkpoint lacks {missing}; remove it to start a new run")
        saved_max = state["engine"].get("max_epochs")
        if saved_max is not None and saved_max != engine.state.max_epochs:
            raise ValueError(
                f"{self.path}: written by a run with max_epochs={saved_max}, this run has "
                f"max_epochs={engine.state.max_epochs}; the learning-rate schedule depends on it. Resume with "
                "the same command, or train from scratch in a new output folder."
            )
        for name, obj in self.objects.items():
            obj.load_state_dict(state[name])
        engine.state.epoch = int(state["engine"]["epoch"])
        engine.state.iteration = int(state["engine"]["iteration"])
        self.resumed_epoch = engine.state.epoch
        logger.info("resumed from %s at epoch %d", self.path, engine.state.epoch)
        if state["engine"].get("terminated", False):
            logger.info("the run in %s had already stopped early; nothing left to do", self.path)
            engine.terminate()

    def save(self, engine: Engine) -> None:
        """Write ``last.pt`` atomically."""
        if not self.save_enabled:
            return
        state: dict[str, Any] = {name: obj.state_dict() for name, obj in self.objects.items()}
        state["engine"] = {
            "epoch": engine.state.epoch,
            "iteration": engine.state.iteration,
            "max_epochs": engine.state.max_epochs,
            "terminated": bool(engine.should_terminate),
        }
        with atomic_path(self.path) as tmp:
            torch.save(state, tmp)
