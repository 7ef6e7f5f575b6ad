"""Stop training before a wall-clock budget runs out, at an epoch boundary, so the last epoch's files are complete."""

from __future__ import annotations

import logging
import time

from ignite.engine import Engine, Events

__all__ = ["TimeBudget"]

logger = logging.getLogger(__name__)


class TimeBudget:
    """Terminate the trainer after the epoch whose successor would end past ``minutes`` of wall time.

    The budget counts from the start of this run (a resumed run gets a new budget). At each epoch end the
    mean epoch time so far predicts the next epoch; if it would overrun, ``engine.terminate()`` is called, so
    handlers attached after this one (checkpoints, resume state) still run for this epoch and record the stop.

    Args:
        minutes: the budget; ``None`` or a non-positive value disables it.
        clock: seconds since an arbitrary origin (tests pass a fake).

    Example:
        >>> TimeBudget(minutes=None).minutes is None
        True
    """

    def __init__(self, *, minutes: float | None, clock: object = time.monotonic) -> None:
        self.minutes = float(minutes) if minutes is not None and minutes > 0 else None
        self.clock = clock
        self.start = 0.0
        self.epochs = 0
        self.stopped_at_epoch: int | None = None

    def attach(self, engine: Engine) -> None:
        """Register on the trainer (a no-op without a budget)."""
        if self.minutes is None:
            return
        engine.add_event_handler(Events.STARTED, self._started)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._check)

    def _now(self) -> float:
        return float(self.clock())  # type: ignore[operator]

    def _started(self, _engine: Engine) -> None:
        self.start, self.epochs = self._now(), 0

    def _check(self, engine: Engine) -> None:
        assert self.minutes is not None
        self.epochs += 1
        elapsed = self._now() - self.start
        if elapsed + elapsed / self.epochs > self.minutes * 60.0:
            self.stopped_at_epoch = engine.state.epoch
            logger.info(
                "time budget: stopping after epoch %d (%.1f of %.1f min used; the next epoch would overrun)",
                engine.state.epoch, elapsed / 60.0, self.minutes,
            )  # fmt: skip
            engine.terminate()
