"""Transfer learning: initialise from a compatible state dict, train a frozen backbone first, then fine-tune."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from ignite.engine import Engine, Events
from torch import nn

__all__ = ["BackboneFreezer", "PretrainedReport", "load_pretrained"]

logger = logging.getLogger(__name__)

# Key prefixes rewritten when loading: an autoencoder's encoder becomes the classifier's backbone.
DEFAULT_KEY_MAP: dict[str, str] = {"encoder.": "backbone.", "module.": ""}


@dataclass
class PretrainedReport:
    """What :func:`load_pretrained` did: tensors loaded, and target tensors left at their initial value."""

    loaded: list[str] = field(default_factory=list)
    not_in_checkpoint: list[str] = field(default_factory=list)
    shape_mismatch: list[str] = field(default_factory=list)


def load_pretrained(
    network: nn.Module,
    checkpoint: str | os.PathLike[str] | None,
    *,
    key_map: Mapping[str, str] | None = None,
    min_loaded: int = 1,
) -> PretrainedReport:
    """Copy every tensor of ``checkpoint`` whose (renamed) key and shape match into ``network``.

    The checkpoint is loaded with ``weights_only=True``; it may be a bare state dict or a dict holding one
    under ``"network"``, ``"model"`` or ``"state_dict"`` (MONAI and MedicalNet styles). Keys are renamed
    with ``key_map`` prefixes (default: ``encoder.`` -> ``backbone.``, ``module.`` dropped).

    Args:
        network: the network to initialise (changed in place).
        checkpoint: the file; ``None`` or ``""`` does nothing.
        key_map: prefix renames applied to the checkpoint's keys.
        min_loaded: raise when fewer tensors than this match (a wrong file is an error, not a no-op).

    Raises:
        ValueError: too few tensors matched; the message names the file and shows example keys.
    """
    report = PretrainedReport()
    if not checkpoint:
        return report
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    for key in ("network", "model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    renamed = {_rename(k, key_map if key_map is not None else DEFAULT_KEY_MAP): v for k, v in state.items()}
    target = network.state_dict()
    matched = {}
    for key, value in target.items():
        if key not in renamed:
            report.not_in_checkpoint.append(key)
        elif renamed[key].shape != value.shape:
            report.shape_mismatch.append(key)
        else:
            matched[key] = renamed[key]
    if len(matched) < min_loaded:
        raise ValueError(
            f"{checkpoint}: only {len(matched)} tensors match the network (checkpoint keys like "
            f"{list(renamed)[:3]}, network keys like {list(target)[:3]})"
        )
    network.load_state_dict(matched, strict=False)
    report.loaded = sorted(matched)
    logger.info("loaded %d/%d tensors from %s", len(matched), len(target), checkpoint)
    return report


def _rename(key: str, key_map: Mapping[str, str]) -> str:
    for old, new in key_map.items():
        if key.startswith(old):
            return new + key[len(old) :]
    return key


class BackboneFreezer:
    """Freeze ``network.<backbone>`` for the first ``freeze_epochs`` epochs, then unfreeze it and scale the
    learning rate by ``finetune_lr_scale`` (stage 2: fine-tune everything at a lower rate).

    Frozen means no gradient and no weight update; batch-norm statistics still adapt to the new data.
    With ``enabled=False`` it does nothing, so one config serves both plain and transfer training.

    Args:
        network: the network (DDP-wrapped or not).
        optimizer: its optimiser (learning rates are scaled in place when unfreezing).
        scheduler: the learning-rate scheduler, if any (its ``base_lrs`` are scaled too, so the schedule
            continues at the lower rate).
        freeze_epochs: epochs trained with the backbone frozen.
        finetune_lr_scale: factor applied to every parameter group's ``lr`` when unfreezing.
        backbone: attribute name of the backbone module.
        enabled: switch.
    """

    def __init__(
        self,
        *,
        network: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
        freeze_epochs: int = 5,
        finetune_lr_scale: float = 0.1,
        backbone: str = "backbone",
        enabled: bool = True,
    ) -> None:
        self.network = network
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.freeze_epochs = int(freeze_epochs)
        self.finetune_lr_scale = float(finetune_lr_scale)
        self.backbone = backbone
        self.enabled = enabled

    def _module(self) -> nn.Module:
        network = getattr(self.network, "module", self.network)
        module = getattr(network, self.backbone, None)
        if not isinstance(module, nn.Module):
            raise AttributeError(f"{type(network).__name__} has no backbone module {self.backbone!r}")
        return module

    def attach(self, engine: Engine) -> None:
        """Decide at every epoch start whether the backbone is frozen."""
        if self.enabled:
            engine.add_event_handler(Events.EPOCH_STARTED, self)

    def __call__(self, engine: Engine) -> None:
        """Freeze during the first ``freeze_epochs`` epochs; unfreeze (once) and scale the lr after."""
        frozen = engine.state.epoch <= self.freeze_epochs
        module = self._module()
        was_frozen = not any(p.requires_grad for p in module.parameters())
        for param in module.parameters():
            param.requires_grad_(not frozen)
        if was_frozen and not frozen:
            for group in self.optimizer.param_groups:
                group["lr"] *= self.finetune_lr_scale
                if "initial_lr" in group:
                    group["initial_lr"] *= self.finetune_lr_scale
            if self.scheduler is not None:
                self.scheduler.base_lrs = [lr * self.finetune_lr_scale for lr in self.scheduler.base_lrs]
            logger.info("epoch %d: backbone unfrozen, lr scaled by %g", engine.state.epoch, self.finetune_lr_scale)
