"""A learning-rate schedule that warms up and anneals over wall time, so a time budget ends training annealed."""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

__all__ = ["TimeCosineLR"]


class TimeCosineLR(LRScheduler):
    """Linear warm-up then cosine annealing over ``minutes`` of training wall time, stepped every iteration.

    A one-cycle or cosine schedule sized in epochs anneals only if training runs exactly that many epochs; on a
    shared or unknown machine the epoch time is not known in advance. This schedule reads the clock instead:
    progress ``p`` is the training time used (from the first ``step()`` after construction, so data caching
    does not count) over ``minutes``. The learning rate rises linearly from ``base_lr / div_factor`` to
    ``base_lr`` over ``p < warmup``, then follows a half cosine down to ``base_lr / final_div_factor`` at
    ``p = 1`` and stays there. Pair it with ``TimeBudget(minutes=...)`` of the same length: that handler stops at
    the last epoch that fits, where ``p`` is within one epoch of 1. The time used is saved in ``state_dict``, so a
    resumed run continues the schedule where it was killed.

    Args:
        optimizer: the optimiser whose parameter groups' ``lr`` is set; their initial ``lr`` is ``base_lr``.
        minutes: the length of the schedule (the training time budget); must be positive.
        warmup: fraction of ``minutes`` spent warming up, in ``[0, 1)``.
        div_factor: ``base_lr / div_factor`` is the learning rate at the start.
        final_div_factor: ``base_lr / final_div_factor`` is the learning rate at the end.
        clock: seconds since an arbitrary origin (tests pass a fake).

    Raises:
        ValueError: ``minutes`` not positive, ``warmup`` outside ``[0, 1)`` or a factor below 1.

    Example:
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        >>> round(TimeCosineLR(opt, minutes=1.0).get_last_lr()[0], 4)
        0.004
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        *,
        minutes: float,
        warmup: float = 0.1,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        clock: Any = time.monotonic,
    ) -> None:
        if not minutes or minutes <= 0:
            raise ValueError(f"TimeCosineLR: minutes must be positive, got {minutes!r}")
        if not 0.0 <= warmup < 1.0:
            raise ValueError(f"TimeCosineLR: warmup must be in [0, 1), got {warmup!r}")
        if div_factor < 1.0 or final_div_factor < 1.0:
            raise ValueError(f"TimeCosineLR: div factors must be >= 1, got {div_factor!r}, {final_div_factor!r}")
        self.seconds = float(minutes) * 60.0
        self.warmup = float(warmup)
        self.div_factor = float(div_factor)
        self.final_div_factor = float(final_div_factor)
        self.clock = clock
        self.used_before = 0.0  # training seconds of earlier (killed) runs, restored by load_state_dict
        self.started: float | None = None
        super().__init__(optimizer)

    def progress(self) -> float:
        """Fraction of the schedule used so far, in ``[0, 1]``."""
        now = float(self.clock())
        if self.started is None:
            return min(1.0, self.used_before / self.seconds)
        return min(1.0, (self.used_before + now - self.started) / self.seconds)

    def factor(self, progress: float) -> float:
        """Learning rate over ``base_lr`` at ``progress`` (a fraction of ``minutes``)."""
        start, end = 1.0 / self.div_factor, 1.0 / self.final_div_factor
        if progress < self.warmup:
            return start + (1.0 - start) * progress / self.warmup
        cosine = (progress - self.warmup) / (1.0 - self.warmup)
        return end + (1.0 - end) * 0.5 * (1.0 + math.cos(math.pi * cosine))

    def get_lr(self) -> list[float]:  # type: ignore[override]
        """The learning rate of each parameter group now (called by ``step()``)."""
        if self.last_epoch > 0 and self.started is None:
            self.started = float(self.clock())
        f = self.factor(self.progress())
        return [float(base) * f for base in self.base_lrs]

    def state_dict(self) -> dict[str, Any]:
        """Plain values only (loadable with ``weights_only=True``); the time used so far is saved."""
        state = {k: v for k, v in super().state_dict().items() if k not in ("clock", "started", "used_before")}
        state["used_before"] = self.progress() * self.seconds
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the schedule; the clock of this run restarts at the next ``step()``."""
        state = dict(state_dict)
        used = float(state.pop("used_before", 0.0))
        super().load_state_dict(state)
        self.used_before, self.started = used, None
