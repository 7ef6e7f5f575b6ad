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

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from ignite.engine import Engine, Events
from ignite.handlers import ProgressBar
from monai.engines import Trainer
from torch import nn
from torch.optim import Optimizer

from monai_ext.engines.best_model import sha256_of
from monai_ext.io.atomic import atomic_path, atomic_write_text

__all__ = [
    "GAN_LOSSES",
    "AmpGanTrainer",
    "GanProgressBar",
    "NetworkSaver",
    "classifier_backbone",
    "evaluate_generator",
    "gan_loss_output",
    "generate_volumes",
    "mid_slice_grid",
    "real_images",
    "realism_map",
    "sample_latents",
    "save_state_dict",
    "save_volumes",
    "write_realism_map",
]

logger = logging.getLogger(__name__)


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


def sample_latents(num_samples: int, latent_size: int, seed: int) -> torch.Tensor:
    """``(num_samples, latent_size)`` standard-normal latents from a CPU generator seeded with ``seed``
    (the same on every device and machine)."""
    rng = torch.Generator(device="cpu").manual_seed(int(seed))
    return torch.randn(int(num_samples), int(latent_size), generator=rng)


@torch.no_grad()
def generate_volumes(
    generator: nn.Module,
    *,
    num_samples: int,
    seed: int,
    latent_size: int | None = None,
    device: str | torch.device = "cpu",
    batch_size: int = 16,
) -> torch.Tensor:
    """Generate ``num_samples`` volumes ``(N, C, *spatial)`` float32 on the CPU, reproducibly from ``seed``.

    The generator runs in eval mode (batch-norm running statistics), so a sample does not depend on the
    others in its batch. ``latent_size`` defaults to ``generator.latent_size``.
    """
    module: Any = getattr(generator, "module", generator)
    size = int(latent_size if latent_size is not None else module.latent_size)
    z = sample_latents(num_samples, size, seed)
    module.eval()
    parts = [module(z[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(z), batch_size)]
    return torch.cat(parts)


def save_volumes(
    volumes: torch.Tensor,
    output_dir: str | os.PathLike[str],
    *,
    spacing: float = 1.0,
    prefix: str = "sample",
    grid_rows: int = 16,
) -> list[Path]:
    """Write ``(N, 1, D, H, W)`` volumes as ``<prefix>_<i:04d>.nii.gz`` and a ``mid_slices.png`` grid.

    The affine is ``diag(spacing, spacing, spacing, 1)`` with the first voxel at the origin (array axes
    ``D, H, W`` = NIfTI ``i, j, k``, RAS mm); MedMNIST publishes no physical voxel size for these crops.
    """
    from monai_ext.io.nifti import save_nifti
    from monai_ext.io.volume import Volume

    out = Path(output_dir)
    affine = np.diag([float(spacing)] * 3 + [1.0])
    paths = []
    for i, volume in enumerate(volumes):
        path = out / f"{prefix}_{i:04d}.nii.gz"
        save_nifti(Volume(array=volume[0].numpy().astype(np.float32), affine=affine), path, sidecar=False)
        paths.append(path)
    mid_slice_grid(volumes, out / "mid_slices.png", max_rows=grid_rows)
    return paths


def mid_slice_grid(volumes: torch.Tensor, path: str | os.PathLike[str], *, max_rows: int = 16) -> Path:
    """PNG (atomic) with one row per volume (at most ``max_rows``) and its three orthogonal mid-slices."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = min(len(volumes), max_rows)
    fig, axes = plt.subplots(rows, 3, figsize=(4.5, 1.5 * rows), dpi=100, squeeze=False)
    try:
        for r in range(rows):
            v = volumes[r, 0].float().numpy()
            d, h, w = (s // 2 for s in v.shape)
            for c, image in enumerate((v[d], v[:, h], v[:, :, w])):
                axes[r, c].imshow(image, cmap="gray", vmin=0, vmax=1)
                axes[r, c].set_axis_off()
        for c, name in enumerate(("axis 0", "axis 1", "axis 2")):
            axes[0, c].set_title(f"mid-slice {name}", fontsize=7)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
    return Path(path)


class _WithDistanceChannel(nn.Module):
    """Append the inner distance map of a 1-channel mask before a 2-channel backbone."""

    def __init__(self, backbone: nn.Module, max_distance: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.max_distance = int(max_distance)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from monai_ext.transforms.mask_distance import mask_distance

        return self.backbone(torch.cat([x, mask_distance(x, max_distance=self.max_distance)], dim=1))


def classifier_backbone(
    checkpoint: str | os.PathLike[str] | None,
    *,
    seed: int = 0,
    max_distance: int = 6,
    **classifier_kwargs: Any,
) -> tuple[nn.Module, dict[str, Any]]:
    """The ``backbone`` of a :class:`~monai_ext.networks.Classifier` as a feature network, in eval mode.

    The network takes 1-channel volumes. When the checkpoint's first convolution expects two channels (the
    classifier bundle's mask + inner distance map input), the distance map
    (:func:`~monai_ext.transforms.mask_distance.mask_distance` of ``x > 0.5``) is appended inside the network.

    Args:
        checkpoint: the classifier bundle's ``models/model.pt`` (state dict); ``None`` or a missing file
            gives a randomly initialised 1-channel backbone (seeded), which the description says.
        seed: seed of the random initialisation.
        max_distance: distance (voxels) mapped to 1 in the distance channel.
        classifier_kwargs: :class:`~monai_ext.networks.Classifier` arguments (``in_channels`` is taken from
            the checkpoint).

    Returns:
        ``(feature_network, description)``; the description names the weights and their SHA-256.
    """
    from monai_ext.networks.classifier import Classifier

    state = None
    if checkpoint is not None and Path(checkpoint).is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        first = next(v for k, v in state.items() if k.endswith("weight") and v.ndim >= 4)
        classifier_kwargs["in_channels"] = int(first.shape[1])
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        classifier = Classifier(**classifier_kwargs)
    info: dict[str, Any]
    if state is not None:
        assert checkpoint is not None
        classifier.load_state_dict(state)
        info = {"weights": Path(checkpoint).name, "sha256": sha256_of(checkpoint)}
    else:
        logger.warning("classifier weights %s not found: Frechet features from a random backbone", checkpoint)
        info = {"weights": f"random initialisation (seed {seed}); {checkpoint} not found", "sha256": None}
    network: nn.Module = classifier.backbone
    info["in_channels"] = classifier.backbone.in_channels
    if classifier.backbone.in_channels == 2:
        network = _WithDistanceChannel(network, max_distance)
        info["distance_channel"] = {"max_distance": max_distance, "mask_threshold": 0.5}
    return network.eval(), info


def evaluate_generator(
    *,
    generator: nn.Module,
    real_images: torch.Tensor,
    feature_network: nn.Module,
    feature_info: Mapping[str, Any] | None = None,
    feature_spatial_size: Sequence[int] = (64, 64, 64),
    output_dir: str | os.PathLike[str],
    seed: int = 0,
    k: int = 5,
    ms_ssim_pairs: int = 200,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Measure sample quality against a real-vs-real floor and write ``metrics.json`` (+ ``loss_curves.png``).

    The real volumes are shuffled (``seed``) and split into halves A (reference) and B (held out); as many
    volumes as A holds are generated from ``seed`` and min-max scaled per volume, the preprocessing every real
    volume went through (:func:`~monai_ext.data.cases.preprocess_array`). Reported, with the same sample sizes
    on both sides: Frechet distance (FD) of generated vs A and of B vs A (the floor), k-NN
    precision/recall/density/coverage of each against A, and the mean pairwise MS-SSIM within generated, A
    and B (lower = more diverse).
    ``output_dir/loss_history.json``, when present, is plotted to ``output_dir/loss_curves.png``.

    Args:
        generator: the trained generator.
        real_images: ``(N, 1, *spatial)`` real volumes at the generator's resolution, ``N >= 6``.
        feature_network: e.g. :func:`classifier_backbone`; its pooled output is the feature vector.
        feature_info: description of the feature network, copied into the JSON.
        feature_spatial_size: inputs are resized to this shape (the feature network's training size).
        output_dir: where ``metrics.json`` goes.
        seed: seed of the split, of the latents and of the MS-SSIM pairs.
        k: neighbourhood of precision/recall (reduced when the sets are small).
        ms_ssim_pairs: random pairs per set for MS-SSIM.
        device: where the networks run.

    Returns:
        The metrics written.
    """
    from monai_ext.engines.loss_curves import LossHistory, load_loss_history, plot_loss_curves
    from monai_ext.metrics.generative import extract_features, frechet_distance_from_features, pairwise_ms_ssim, prdc

    if len(real_images) < 6:
        raise ValueError(f"need at least 6 real volumes for a real-vs-real split, got {len(real_images)}")
    order = torch.randperm(len(real_images), generator=torch.Generator().manual_seed(seed))
    half = len(real_images) // 2
    real_a, real_b = real_images[order[:half]].float(), real_images[order[half : 2 * half]].float()
    fake = _min_max(generate_volumes(generator, num_samples=half, seed=seed, device=device))
    feats = {
        name: extract_features(feature_network.to(device), x, spatial_size=feature_spatial_size, device=device)
        for name, x in (("generated", fake), ("real_a", real_a), ("real_b", real_b))
    }
    k = max(1, min(k, half - 1))
    metrics: dict[str, Any] = {
        "fd_generated_vs_real": frechet_distance_from_features(feats["generated"], feats["real_a"]),
        "fd_real_vs_real": frechet_distance_from_features(feats["real_b"], feats["real_a"]),
        "generated_vs_real": prdc(feats["real_a"], feats["generated"], k=k),
        "real_vs_real": prdc(feats["real_a"], feats["real_b"], k=k),
        "ms_ssim_mean": {
            name: pairwise_ms_ssim(x, num_pairs=ms_ssim_pairs, seed=seed)
            for name, x in (("generated", fake), ("real_a", real_a), ("real_b", real_b))
        },
        "num_samples_per_set": half,
        "k": k,
        "seed": seed,
        "feature_network": dict(feature_info or {}),
        "feature_spatial_size": list(feature_spatial_size),
    }
    metrics["fd_ratio"] = metrics["fd_generated_vs_real"] / max(metrics["fd_real_vs_real"], 1e-12)
    out = Path(output_dir)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    history = out / LossHistory.json_name
    if history.is_file():
        plot_loss_curves(load_loss_history(history), out / LossHistory.png_name)
    logger.info(
        "FD generated vs real %.3f (real vs real %.3f)", metrics["fd_generated_vs_real"], metrics["fd_real_vs_real"]
    )
    return metrics


def _min_max(volumes: torch.Tensor) -> torch.Tensor:
    """Scale each ``(C, *spatial)`` volume of a batch to [0, 1] (constant volumes become 0)."""
    flat = volumes.flatten(1)
    low = flat.min(dim=1).values.view(-1, *([1] * (volumes.ndim - 1)))
    high = flat.max(dim=1).values.view(-1, *([1] * (volumes.ndim - 1)))
    return torch.where(high > low, (volumes - low) / (high - low).clamp_min(1e-12), torch.zeros_like(volumes))


def realism_map(
    discriminator: nn.Module,
    image: torch.Tensor,
    *,
    spatial_size: Sequence[int],
    target_layer: str = "stages.1",
) -> torch.Tensor:
    """Grad-CAM of the discriminator's realism logit for one volume, in the volume's own grid.

    The volume is resized to the discriminator's input size and scaled to [0, 1] as in training, the map
    (1 = the region that most raises the "real" score) is resized back with trilinear interpolation.

    Args:
        discriminator: the trained discriminator.
        image: ``(D, H, W)`` or ``(1, D, H, W)`` volume, any size.
        spatial_size: the discriminator's input shape.
        target_layer: discriminator layer for Grad-CAM (``stages.1``: 1/4 of the input side).

    Returns:
        ``(D, H, W)`` float32 map in [0, 1].
    """
    from monai_ext.data.cases import preprocess_array
    from monai_ext.explain.gradcam import grad_cam

    volume = torch.as_tensor(image, dtype=torch.float32)
    volume = volume[None] if volume.ndim == 3 else volume
    device = next(discriminator.parameters()).device
    x = preprocess_array(volume, spatial_size=spatial_size)[None].to(device)
    cam = grad_cam(discriminator, x, target_layer, None).cpu()
    if tuple(cam.shape[2:]) != tuple(volume.shape[1:]):
        cam = F.interpolate(cam, size=tuple(volume.shape[1:]), mode="trilinear", align_corners=False)
    return cam[0, 0].clamp(0, 1)


def write_realism_map(
    discriminator: nn.Module,
    image_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    spatial_size: Sequence[int],
    target_layer: str = "stages.1",
) -> Path:
    """Read a NIfTI volume, compute :func:`realism_map` in its stored voxel order and write the map as NIfTI
    with the input's affine (same shape, same grid)."""
    from monai_ext.io.nifti import load_nifti, save_nifti
    from monai_ext.io.volume import Volume

    volume = load_nifti(image_path)
    if volume.array.ndim != 3:
        raise ValueError(f"{image_path}: expected a 3D volume, got shape {volume.array.shape}")
    cam = realism_map(
        discriminator,
        torch.as_tensor(np.asarray(volume.array, dtype=np.float32)),
        spatial_size=spatial_size,
        target_layer=target_layer,
    )
    return save_nifti(Volume(array=cam.numpy(), affine=volume.affine), output_path, sidecar=False)
