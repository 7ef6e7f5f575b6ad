"""GAN training handlers: a progress bar with both losses, and a saver of each network's weights with sha256."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Engine, Events
from ignite.handlers import ProgressBar
from torch import nn

from monai_ext.engines.gan.trainer import gan_loss_output
from monai_ext.engines.training.best_model import sha256_of
from monai_ext.io.atomic import atomic_path, atomic_write_text

__all__ = ["GanProgressBar", "NetworkSaver", "save_state_dict"]


class GanProgressBar(ProgressBar):
    """ignite's ``ProgressBar`` showing ``g_loss`` and ``d_loss`` (bundles cannot pass ``attach`` arguments)."""

    def attach(self, engine: Engine, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Attach with ``output_transform=gan_loss_output`` unless another one is given."""
        kwargs.setdefault("output_transform", gan_loss_output)
        super().attach(engine, *args, **kwargs)


class NetworkSaver:
    """Save networks as plain state dicts (``<file>`` + ``<file>.sha256``) at the end of every ``interval`` epochs.

    DDP wrappers are unwrapped; tensors are moved to the CPU; writes are atomic.

    Args:
        save_dir: output folder (created when needed).
        networks: file name -> network, e.g. ``{"model.pt": generator, "discriminator.pt": discriminator}``.
        interval: save every ``interval`` epochs (and always at the last epoch).
        save: whether this process writes (``False`` on DDP ranks other than 0).
    """

    def __init__(
        self,
        *,
        save_dir: str | os.PathLike[str],
        networks: Mapping[str, nn.Module],
        interval: int = 1,
        save: bool = True,
    ) -> None:
        self.networks = {Path(save_dir) / name: net for name, net in networks.items()}
        self.interval = max(1, int(interval))
        self.save_enabled = save

    def attach(self, engine: Engine) -> None:
        """Fire at ``EPOCH_COMPLETED``."""
        engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        """Write the state dicts if this epoch is due."""
        last = engine.state.epoch >= (engine.state.max_epochs or 0)
        if self.save_enabled and (engine.state.epoch % self.interval == 0 or last):
            for path, network in self.networks.items():
                save_state_dict(network, path)


def save_state_dict(network: nn.Module, path: str | os.PathLike[str]) -> Path:
    """Write ``network``'s state dict (unwrapped from DDP, on the CPU) and its ``.sha256`` file atomically."""
    path = Path(path)
    module = getattr(network, "module", network)
    state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    atomic_write_text(f"{path}.sha256", f"{sha256_of(path)}  {path.name}\n")
    return path


# --- bundle steps: sampling, evaluation and realism maps (thin glue around the tested pieces) ---------------
