"""The wall-time schedule warms up, anneals to its floor by the end of the budget, and resumes where it was killed."""

from __future__ import annotations

import io
import math

import pytest
import torch
from ignite.engine import Engine, Events

from monai_ext.engines import TimeBudget, TimeCosineLR


class _FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _optimizer(lr: float = 0.01) -> torch.optim.Optimizer:
    return torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=lr)


def _lr_at(schedule: TimeCosineLR, optimizer: torch.optim.Optimizer, clock: _FakeClock, seconds: float) -> float:
    clock.now = seconds
    optimizer.step()
    schedule.step()
    return float(optimizer.param_groups[0]["lr"])


def test_warms_up_peaks_and_anneals_over_wall_time() -> None:
    clock, optimizer = _FakeClock(), _optimizer(0.01)
    schedule = TimeCosineLR(optimizer, minutes=10.0, warmup=0.1, div_factor=25.0, final_div_factor=1e4, clock=clock)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01 / 25)
    clock.now = 100.0  # caching before the first step does not count
    assert _lr_at(schedule, optimizer, clock, 100.0) == pytest.approx(0.01 / 25)
    assert _lr_at(schedule, optimizer, clock, 130.0) == pytest.approx(0.01 / 25 + (0.01 - 0.01 / 25) * 0.5)
    assert _lr_at(schedule, optimizer, clock, 160.0) == pytest.approx(0.01)
    middle = 0.01 / 1e4 + (0.01 - 0.01 / 1e4) * 0.5 * (1 + math.cos(math.pi * 0.5))
    assert _lr_at(schedule, optimizer, clock, 100.0 + 60.0 + 270.0) == pytest.approx(middle)
    assert _lr_at(schedule, optimizer, clock, 700.0) == pytest.approx(0.01 / 1e4)
    assert _lr_at(schedule, optimizer, clock, 5000.0) == pytest.approx(0.01 / 1e4)


def test_with_the_time_budget_the_last_epoch_runs_annealed() -> None:
    clock, optimizer = _FakeClock(), _optimizer(0.004)
    schedule = TimeCosineLR(optimizer, minutes=28.0, warmup=0.05, clock=clock)
    engine = Engine(lambda _engine, _batch: None)
    TimeBudget(minutes=28.0, clock=clock).attach(engine)
    lrs: list[float] = []

    @engine.on(Events.ITERATION_STARTED)
    def tick(_engine: Engine) -> None:
        clock.now += 0.6  # 18 iterations of 0.6 s: about 155 epochs fit in 28 minutes
        optimizer.step()
        schedule.step()
        lrs.append(float(optimizer.param_groups[0]["lr"]))

    engine.run(list(range(18)), max_epochs=1000)
    assert 150 <= engine.state.epoch < 160
    assert max(lrs) == pytest.approx(0.004, rel=1e-3)
    assert max(lrs[-18:]) < 0.004 * 1e-3  # the whole last epoch is at the end of the cosine


def test_resume_continues_the_schedule_from_a_weights_only_state() -> None:
    clock, optimizer = _FakeClock(), _optimizer(0.01)
    schedule = TimeCosineLR(optimizer, minutes=10.0, warmup=0.0, clock=clock)
    _lr_at(schedule, optimizer, clock, 0.0)
    killed_at = _lr_at(schedule, optimizer, clock, 300.0)
    buffer = io.BytesIO()
    torch.save(schedule.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    assert state["used_before"] == pytest.approx(300.0)

    clock2, optimizer2 = _FakeClock(), _optimizer(0.01)
    clock2.now = 9000.0
    resumed = TimeCosineLR(optimizer2, minutes=10.0, warmup=0.0, clock=clock2)
    resumed.load_state_dict(state)
    assert _lr_at(resumed, optimizer2, clock2, 9000.0) == pytest.approx(killed_at)
    assert _lr_at(resumed, optimizer2, clock2, 9300.0) == pytest.approx(0.01 / 1e4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"minutes": 0.0}, "minutes must be positive"),
        ({"minutes": None}, "minutes must be positive"),
        ({"minutes": 1.0, "warmup": 1.0}, "warmup must be in"),
        ({"minutes": 1.0, "div_factor": 0.5}, "div factors must be >= 1"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs: dict[str, float | None], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TimeCosineLR(_optimizer(), **kwargs)  # type: ignore[arg-type]
