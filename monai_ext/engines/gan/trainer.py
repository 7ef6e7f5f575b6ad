"""A GAN trainer for MONAI bundles: AMP on CUDA, one scalar ``loss`` for trackers, both losses for plots.

MONAI 1.6.1's :class:`~monai.engines.GanTrainer` has no mixed precision and its output has no ``loss`` key,
which ``--tracking mlflow`` reads. :class:`AmpGanTrainer` is the same kind of ignite engine (a MONAI
:class:`~monai.engines.Trainer`, so every MONAI handler attaches to it) with:

* ``torch.autocast`` + one :class:`torch.amp.GradScaler` per network on CUDA (disabled scalers on CPU);
* the discriminator scoring real and generated volumes in one forward pass (one DDP reduction per step);
* the generated batch reused for the generator step (one generator forward per iteration);
* ``state.output = [{"loss", "g_loss", "d_loss"}]``: a one-item list like MONAI's decollated outputs, so
  ``monai.handlers.from_engine(["loss"], first=True)`` gives a scalar.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from ignite.engine import Engine
from monai.engines import Trainer
from torch import nn
from torch.optim import Optimizer

__all__ = ["GAN_LOSSES", "AmpGanTrainer", "gan_loss_output", "real_images"]


def _hinge(real: torch.Tensor | None, fake: torch.Tensor, for_generator: bool) -> torch.Tensor:
    if for_generator:
        return -fake.mean()
    assert real is not None
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def _non_saturating(real: torch.Tensor | None, fake: torch.Tensor, for_generator: bool) -> torch.Tensor:
    if for_generator:
        return F.softplus(-fake).mean()  # -log sigmoid(fake)
    assert real is not None
    return F.softplus(-real).mean() + F.softplus(fake).mean()


#: Adversarial losses by name: ``f(real_logits | None, fake_logits, for_generator) -> scalar``.
GAN_LOSSES: dict[str, Callable[[torch.Tensor | None, torch.Tensor, bool], torch.Tensor]] = {
    "hinge": _hinge,
    "non_saturating": _non_saturating,
}


def real_images(
    batchdata: Mapping[str, Any] | torch.Tensor,
    device: str | torch.device | None = None,
    non_blocking: bool = False,
    **kwargs: Any,
) -> torch.Tensor:
    """``prepare_batch`` for :class:`AmpGanTrainer`: the batch's ``image`` (or the tensor itself) as float32."""
    image = batchdata["image"] if isinstance(batchdata, Mapping) else batchdata
    return torch.as_tensor(image).to(device=device, non_blocking=non_blocking).float()


def gan_loss_output(output: Any) -> dict[str, float]:
    """Output transform picking ``g_loss`` and ``d_loss`` (for ``TensorBoardStatsHandler`` and friends)."""
    item = output[0] if isinstance(output, list) else output
    return {"g_loss": float(item["g_loss"]), "d_loss": float(item["d_loss"])}


class AmpGanTrainer(Trainer):
    """Train a generator against a discriminator, one discriminator and one generator step per iteration.

    Per iteration: sample ``z ~ N(0, I)`` of shape ``(B, latent_size)``, generate ``fake = G(z)``; update D
    ``d_train_steps`` times on ``cat([real, fake.detach()])``; update G on ``D(fake)``. The losses are
    :data:`GAN_LOSSES` entries (``"hinge"``: SNGAN/BigGAN hinge; ``"non_saturating"``: DCGAN's).

    Args:
        device: torch device.
        max_epochs: epochs to train.
        train_data_loader: yields batches of real volumes (``{"image": (B, C, *spatial)}``).
        g_network: generator ``(B, latent_size) -> (B, C, *spatial)``.
        g_optimizer: generator optimiser.
        d_network: discriminator ``(B, C, *spatial) -> (B, 1)`` logits.
        d_optimizer: discriminator optimiser.
        latent_size: latent vector length.
        loss: a :data:`GAN_LOSSES` name.
        d_train_steps: discriminator updates per generator update.
        amp: mixed precision (``torch.autocast``); only useful on CUDA.
        g_scaler: the generator's ``GradScaler`` (created, enabled iff ``amp``, when ``None``); pass your own to
            checkpoint it.
        d_scaler: the discriminator's ``GradScaler``.
        prepare_batch: ``(batch, device, non_blocking) -> real images``.
        epoch_length: iterations per epoch (default: the loader's length).
        train_handlers: MONAI/ignite handlers with ``attach(engine)``.
        non_blocking: non-blocking host-to-device copies.
    """

    def __init__(
        self,
        *,
        device: str | torch.device,
        max_epochs: int,
        train_data_loader: Any,
        g_network: nn.Module,
        g_optimizer: Optimizer,
        d_network: nn.Module,
        d_optimizer: Optimizer,
        latent_size: int,
        loss: str = "hinge",
        d_train_steps: int = 1,
        amp: bool = False,
        g_scaler: torch.amp.GradScaler | None = None,
        d_scaler: torch.amp.GradScaler | None = None,
        prepare_batch: Callable[..., torch.Tensor] = real_images,
        epoch_length: int | None = None,
        train_handlers: Sequence[Any] | None = None,
        non_blocking: bool = False,
    ) -> None:
        if loss not in GAN_LOSSES:
            raise ValueError(f"loss must be one of {sorted(GAN_LOSSES)}, got {loss!r}")
        if d_train_steps < 1:
            raise ValueError(f"d_train_steps must be >= 1, got {d_train_steps}")
        super().__init__(
            device=torch.device(device),
            max_epochs=max_epochs,
            data_loader=train_data_loader,
            epoch_length=epoch_length,
            non_blocking=non_blocking,
            prepare_batch=prepare_batch,
            handlers=train_handlers,
            decollate=False,
        )
        device_type = torch.device(device).type
        self.g_network = g_network
        self.g_optimizer = g_optimizer
        self.d_network = d_network
        self.d_optimizer = d_optimizer
        self.latent_size = int(latent_size)
        self.loss_fn = GAN_LOSSES[loss]
        self.d_train_steps = int(d_train_steps)
        self.use_amp = bool(amp)
        self.g_scaler = g_scaler if g_scaler is not None else torch.amp.GradScaler(device_type, enabled=self.use_amp)
        self.d_scaler = d_scaler if d_scaler is not None else torch.amp.GradScaler(device_type, enabled=self.use_amp)

    def _autocast(self) -> torch.autocast:
        return torch.autocast(device_type=self.state.device.type, enabled=self.use_amp)

    def _iteration(self, engine: Engine, batchdata: Any) -> list[dict[str, float]]:  # type: ignore[override]
        """One discriminator and one generator update; returns ``[{"loss", "g_loss", "d_loss"}]``."""
        if batchdata is None:
            raise ValueError("must provide batch data for current iteration.")
        real = self.prepare_batch(batchdata, self.state.device, self.non_blocking)
        self.g_network.train()
        self.d_network.train()
        z = torch.randn(len(real), self.latent_size, device=real.device)
        with self._autocast():
            fake = self.g_network(z)

        d_loss = 0.0
        for _ in range(self.d_train_steps):
            self.d_optimizer.zero_grad(set_to_none=True)
            with self._autocast():
                logits = self.d_network(torch.cat([real, fake.detach().to(real.dtype)])).float()
                loss_d = self.loss_fn(logits[: len(real)], logits[len(real) :], False)
            self.d_scaler.scale(loss_d).backward()
            self.d_scaler.step(self.d_optimizer)
            self.d_scaler.update()
            d_loss += float(loss_d.detach()) / self.d_train_steps

        self.g_optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            loss_g = self.loss_fn(None, self.d_network(fake).float(), True)
        self.g_scaler.scale(loss_g).backward()
        self.g_scaler.step(self.g_optimizer)
        self.g_scaler.update()
        self.d_optimizer.zero_grad(set_to_none=True)  # drop the discriminator grads of the generator step
        g_loss = float(loss_g.detach())
        return [{"loss": g_loss + d_loss, "g_loss": g_loss, "d_loss": d_loss}]
