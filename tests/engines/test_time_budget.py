"""The wall-clock budget stops at the last epoch that fits, and does nothing without a budget."""

from __future__ import annotations

from ignite.engine import Engine, Events

from monai_ext.engines.training.time_budget import TimeBudget


class _FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _run(minutes: float | None, epoch_seconds: float, max_epochs: int = 20) -> tuple[Engine, TimeBudget]:
    clock = _FakeClock()
    engine = Engine(lambda _engine, _batch: None)
    budget = TimeBudget(minutes=minutes, clock=clock)
    budget.attach(engine)

    @engine.on(Events.EPOCH_STARTED)
    def tick(_engine: Engine) -> None:
        clock.now += epoch_seconds

    engine.run([0], max_epochs=max_epochs)
    return engine, budget


def test_stops_before_the_epoch_that_would_overrun() -> None:
    engine, budget = _run(minutes=10, epoch_seconds=130)  # 4 epochs = 520 s; a 5th would end at 650 s > 600 s
    assert engine.state.epoch == 4 and budget.stopped_at_epoch == 4


def test_no_budget_runs_every_epoch() -> None:
    engine, budget = _run(minutes=None, epoch_seconds=1000, max_epochs=3)
    assert engine.state.epoch == 3 and budget.stopped_at_epoch is None


def test_a_generous_budget_never_stops() -> None:
    engine, budget = _run(minutes=60, epoch_seconds=10, max_epochs=5)
    assert engine.state.epoch == 5 and budget.stopped_at_epoch is None
