"""Mixed precision for training on a CPU with native bfloat16 (AVX512-BF16 or AMX), beside CUDA's AMP.

MONAI's ``SupervisedTrainer(amp=True)`` autocasts on CUDA only (float16 with a gradient scaler). On a CPU whose
oneDNN kernels run bfloat16 natively, convolutions under ``torch.autocast("cpu", dtype=torch.bfloat16)`` are
faster (measured by ``benchmarks/bench_cpu_autocast.py``); bfloat16 has float32's exponent range, so no
gradient scaler is needed. Parameters, optimiser state, batch-norm statistics and the saved weights stay float32;
only the autocast operations (convolutions, matrix products) compute in bfloat16.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

__all__ = ["CpuAutocastIteration", "Float32Loss", "cpu_amp_enabled", "cpu_autocast_iteration"]


def cpu_amp_enabled(device: torch.device | str) -> bool:
    """Whether training on ``device`` should autocast to bfloat16 on the CPU.

    True only for a CPU device whose oneDNN build reports native bfloat16 support; emulated bfloat16 is slower
    than float32, and CUDA has its own AMP (``amp_enabled``).

    Args:
        device: the training device.
    """
    if torch.device(device).type != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(probe()) if probe is not None else False


class CpuAutocastIteration:
    """A ``SupervisedTrainer`` ``iteration_update`` that runs the trainer's own iteration under CPU autocast.

    Forward, loss, backward and the optimiser step are MONAI's ``SupervisedTrainer._iteration``; only the
    precision of the autocast operations changes. Pair it with :class:`Float32Loss` so the loss (softmax, Dice
    sums over a batch of volumes) is computed in float32. The engine's ``prepare_batch`` (which may augment the
    batch on the device, e.g. :class:`~monai_ext.engines.AugmentedBatch`) runs with autocast off, as it does
    outside CUDA's AMP: the network's input is computed in float32 as at inference.

    Args:
        dtype: the autocast dtype; ``torch.bfloat16`` (float16 on a CPU would need a gradient scaler).

    Raises:
        ValueError: ``dtype`` is not ``torch.bfloat16``.
    """

    def __init__(self, *, dtype: torch.dtype = torch.bfloat16) -> None:
        if dtype is not torch.bfloat16:
            raise ValueError(f"CPU autocast supports torch.bfloat16 only, not {dtype}")
        self.dtype = dtype

    def __call__(self, engine: Any, batchdata: Any) -> Any:
        """One training iteration of ``engine`` (a ``SupervisedTrainer``) on ``batchdata`` under autocast."""
        prepare_batch = engine.prepare_batch
        engine.prepare_batch = _without_autocast(prepare_batch)
        try:
            with torch.autocast("cpu", dtype=self.dtype):
                return engine._iteration(engine, batchdata)
        finally:
            engine.prepare_batch = prepare_batch


def _without_autocast(prepare_batch: Callable[..., Any]) -> Callable[..., Any]:
    """``prepare_batch`` called with CPU autocast off (the batch and any augmentation stay float32)."""

    def prepare(*args: Any, **kwargs: Any) -> Any:
        with torch.autocast("cpu", enabled=False):
            return prepare_batch(*args, **kwargs)

    return prepare


def cpu_autocast_iteration(*, enabled: bool) -> Callable[[Any, Any], Any] | None:
    """The ``iteration_update`` for a ``SupervisedTrainer``: :class:`CpuAutocastIteration` or ``None``.

    Args:
        enabled: usually ``cpu_amp_enabled(device)``; ``None`` (MONAI's default iteration) when false.
    """
    return CpuAutocastIteration() if enabled else None


class Float32Loss(nn.Module):
    """Wrap a loss so it runs in float32 with autocast off, whatever precision the network's output has.

    Args:
        loss: the loss module, called as ``loss(input, target)``.

    Example:
        >>> loss = Float32Loss(loss=torch.nn.MSELoss())
        >>> loss(torch.ones(2, dtype=torch.bfloat16), torch.zeros(2)).dtype
        torch.float32
    """

    def __init__(self, *, loss: nn.Module) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The wrapped loss of ``input`` (any shape, cast to float32) against ``target`` (floating: cast too)."""
        device_type = input.device.type
        with torch.autocast(device_type=device_type, enabled=False):
            tgt = target.float() if target.is_floating_point() else target
            return self.loss(input.float(), tgt)
