"""Best-model saving with early stopping, resuming a killed run, and two-stage transfer learning."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import pytest
import torch
from ignite.engine import Engine, Events
from torch import nn

from monai_ext.engines import BackboneFreezer, BestModelSaver, ResumeCheckpoint, load_pretrained
from monai_ext.networks import Classifier, Encoder


def _validator(values: list[float]) -> Engine:
    validator = Engine(lambda e, b: None)
    validator.state.metrics = {}
    validator.state.key_metric_name = "val_auc"  # type: ignore[attr-defined]
    validator.values = iter(values)  # type: ignore[attr-defined]
    return validator


def _trainer(network: nn.Module, optimizer: torch.optim.Optimizer, validator: Engine | None = None) -> Engine:
    def step(engine: Engine, batch: torch.Tensor) -> float:
        optimizer.zero_grad()
        loss = network(batch).pow(2).mean()
        loss.backward()
        optimizer.step()
        return float(loss)

    trainer = Engine(step)
    trainer.seen_epochs = []  # type: ignore[attr-defined]
    trainer.add_event_handler(Events.EPOCH_STARTED, lambda e: e.seen_epochs.append(e.state.epoch))
    if validator is not None:
        trainer.add_event_handler(
            Events.EPOCH_COMPLETED, lambda e: validator.state.metrics.update(val_auc=next(validator.values))
        )
    return trainer


def _data() -> list[torch.Tensor]:
    return [torch.rand(2, 3) for _ in range(3)]


def test_best_model_saved_with_hash_and_early_stop(tmp_path: Path) -> None:
    net = nn.Linear(3, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    validator = _validator([0.5, 0.7, float("nan"), 0.6, 0.65, 0.9])
    trainer = _trainer(net, opt, validator)
    saver = BestModelSaver(validator=validator, network=net, save_path=tmp_path / "model.pt", patience=3)
    saver.attach(trainer)
    trainer.run(_data(), max_epochs=6)
    assert trainer.seen_epochs == [1, 2, 3, 4, 5]  # type: ignore[attr-defined]
    assert (saver.best, saver.best_epoch, saver.bad_validations) == (0.7, 2, 3)
    saved = torch.load(tmp_path / "model.pt", weights_only=True)
    assert set(saved) == {"weight", "bias"}
    digest, name = (tmp_path / "model.pt.sha256").read_text().split()
    assert name == "model.pt"
    assert digest == hashlib.sha256((tmp_path / "model.pt").read_bytes()).hexdigest()


def test_best_model_reports_a_missing_metric(tmp_path: Path) -> None:
    net = nn.Linear(3, 1)
    validator = _validator([])
    trainer = _trainer(net, torch.optim.SGD(net.parameters(), lr=0.1))
    BestModelSaver(validator=validator, network=net, save_path=tmp_path / "m.pt", metric_name="acc").attach(trainer)
    with pytest.raises(KeyError, match="'acc' not found"):
        trainer.run(_data(), max_epochs=1)


class _KilledError(Exception):
    pass


def _kill(engine: Engine) -> None:
    raise _KilledError


def test_killed_run_resumes_at_the_next_epoch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = nn.Linear(3, 1)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    first = _trainer(net, opt)
    ResumeCheckpoint(checkpoint_dir=tmp_path, objects={"network": net, "optimizer": opt}).attach(first)
    first.add_event_handler(Events.EPOCH_COMPLETED(once=2), _kill)  # killed after epoch 2 was saved
    with pytest.raises(_KilledError):
        first.run(_data(), max_epochs=4)
    weights_after_2 = {k: v.clone() for k, v in net.state_dict().items()}

    net2 = nn.Linear(3, 1)
    opt2 = torch.optim.Adam(net2.parameters(), lr=0.01)
    second = _trainer(net2, opt2)
    resume = ResumeCheckpoint(checkpoint_dir=tmp_path, objects={"network": net2, "optimizer": opt2})
    resume.attach(second)
    loaded: dict[str, torch.Tensor] = {}

    def snapshot(engine: Engine) -> None:
        loaded.update({k: v.clone() for k, v in net2.state_dict().items()})

    second.add_event_handler(Events.EPOCH_STARTED(once=3), snapshot)
    second.run(_data(), max_epochs=4)
    assert second.seen_epochs == [3, 4]  # type: ignore[attr-defined]
    assert resume.resumed_epoch == 2
    assert all(torch.equal(loaded[k], weights_after_2[k]) for k in weights_after_2)
    assert torch.load(tmp_path / "last.pt", weights_only=True)["engine"]["epoch"] == 4


def test_resume_refuses_a_different_schedule_length(tmp_path: Path) -> None:
    net = nn.Linear(3, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    first = _trainer(net, opt)
    ResumeCheckpoint(checkpoint_dir=tmp_path, objects={"network": net}).attach(first)
    first.run(_data(), max_epochs=1)
    second = _trainer(net, opt)
    ResumeCheckpoint(checkpoint_dir=tmp_path, objects={"network": net}).attach(second)
    with pytest.raises(ValueError, match=r"last.pt: written by a run with max_epochs=1, this run has max_epochs=3"):
        second.run(_data(), max_epochs=3)


def test_early_stopped_run_stays_stopped(tmp_path: Path) -> None:
    net = nn.Linear(3, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    first = _trainer(net, opt)
    first.add_event_handler(Events.EPOCH_COMPLETED(once=1), lambda e: e.terminate())
    ResumeCheckpoint(checkpoint_dir=tmp_path, objects={"network": net}).attach(first)
    first.run(_data(), max_epochs=5)
    again = _trainer(net, opt)
    ResumeCheckpoint(checkpoint_dir=tmp_path, objects={"network": net}).attach(again)
    again.run(_data(), max_epochs=5)
    assert again.seen_epochs == []  # type: ignore[attr-defined]


def test_resume_refuses_a_checkpoint_without_an_object(tmp_path: Path) -> None:
    net = nn.Linear(3, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    first = _trainer(net, opt)
    ResumeCheckpoint(checkpoint_dir=tmp_path, objects={"network": net}).attach(first)
    first.run(_data(), max_epochs=1)
    second = _trainer(net, opt)
    ResumeCheckpoint(checkpoint_dir=tmp_path, objects={"network": net, "optimizer": opt}).attach(second)
    with pytest.raises(ValueError, match=r"lacks \['optimizer'\]"):
        second.run(_data(), max_epochs=2)


def test_load_pretrained_maps_encoder_to_backbone(tmp_path: Path) -> None:
    encoder = Encoder(channels=(4, 8), strides=(2, 2))
    path = tmp_path / "ae.pt"
    torch.save({"state_dict": {f"encoder.{k}": v for k, v in encoder.state_dict().items()}}, path)
    net = Classifier(channels=(4, 8), strides=(2, 2))
    report = load_pretrained(net, path)
    assert len(report.loaded) == len(encoder.state_dict())
    assert all(k.startswith("head.") or k == "prior_correction" for k in report.not_in_checkpoint)
    assert torch.equal(net.backbone.stages[0][0].conv.weight, encoder.stages[0][0].conv.weight)
    assert load_pretrained(net, None).loaded == []


def test_load_pretrained_refuses_an_unrelated_file(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(ValueError, match=r"other.pt: only 0 tensors match"):
        load_pretrained(Classifier(channels=(4, 8), strides=(2, 2)), path)


class _Payload:
    def __reduce__(self) -> tuple:
        return (Path.touch, (Path(self.marker),))  # type: ignore[attr-defined]


def test_load_pretrained_never_unpickles_code(tmp_path: Path) -> None:
    payload = _Payload()
    payload.marker = str(tmp_path / "pwned")  # type: ignore[attr-defined]
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"backbone.x": payload}, f)
    with pytest.raises(pickle.UnpicklingError):
        load_pretrained(Classifier(channels=(4, 8), strides=(2, 2)), path)
    assert not (tmp_path / "pwned").exists()


def test_backbone_frozen_then_fine_tuned_at_lower_lr() -> None:
    net = Classifier(channels=(4, 8), strides=(2, 2))
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    trainer = Engine(lambda e, b: None)
    states: list[tuple[bool, float]] = []
    BackboneFreezer(network=net, optimizer=opt, scheduler=sched, freeze_epochs=2, finetune_lr_scale=0.1).attach(trainer)
    trainer.add_event_handler(
        Events.EPOCH_STARTED,
        lambda e: states.append((any(p.requires_grad for p in net.backbone.parameters()), opt.param_groups[0]["lr"])),
    )
    trainer.run([0], max_epochs=4)
    assert states == [(False, 1.0), (False, 1.0), (True, pytest.approx(0.1)), (True, pytest.approx(0.1))]
    assert sched.base_lrs == [pytest.approx(0.1)]
    assert all(p.requires_grad for p in net.head.parameters())
