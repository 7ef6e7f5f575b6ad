"""Logit offsets fitted on validation outputs: recovered shifts, refused inputs, and the evaluator handler."""

from __future__ import annotations

import logging

import pytest
import torch
from monai.engines import SupervisedEvaluator
from monai.transforms import Activationsd, AsDiscreted, Compose
from torch.utils.data import DataLoader, TensorDataset

from monai_ext.engines import LogitOffsetCalibration, fit_logit_offset
from monai_ext.networks import Classifier


def _cases(n: int, true_offsets: torch.Tensor, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities a network reports, and labels drawn from the same scores shifted by true_offsets."""
    g = torch.Generator().manual_seed(seed)
    z = 2.0 * torch.randn(n, true_offsets.numel(), generator=g)
    labels = torch.multinomial(torch.softmax(z + true_offsets, 1), 1, generator=g).squeeze(1)
    return torch.log_softmax(z, 1), labels


@pytest.mark.parametrize("true", [[0.0, 1.5], [0.0, -2.0], [0.0, 0.8, -1.2]])
def test_fit_recovers_the_shift_that_generated_the_labels(true: list[float]) -> None:
    log_probs, labels = _cases(20000, torch.tensor(true))
    offsets = fit_logit_offset(log_probs, labels)
    assert offsets[0] == 0.0
    assert torch.allclose(offsets, torch.tensor(true), atol=0.1), offsets


def test_fit_raises_accuracy_of_a_shifted_scorer_and_keeps_its_ranking() -> None:
    log_probs, labels = _cases(2000, torch.tensor([0.0, 3.0]))
    offsets = fit_logit_offset(log_probs, labels)
    before = (log_probs.argmax(1) == labels).float().mean()
    after = ((log_probs + offsets).argmax(1) == labels).float().mean()
    assert after > before + 0.1
    gap = log_probs[:, 1] - log_probs[:, 0]
    shifted = (log_probs + offsets)[:, 1] - (log_probs + offsets)[:, 0]
    assert torch.equal(gap.argsort(), shifted.argsort())


def test_fit_clips_to_the_bound_when_one_class_always_wins() -> None:
    log_probs = torch.log_softmax(torch.tensor([[0.0, -9.0], [0.0, -8.0], [0.0, -9.5], [0.0, -30.0]]), 1)
    labels = torch.tensor([1, 1, 1, 0])
    assert fit_logit_offset(log_probs, labels, bound=4.0)[1] == pytest.approx(4.0)


@pytest.mark.parametrize(
    ("log_probs", "labels", "message"),
    [
        (torch.zeros(4, 2), torch.zeros(3, dtype=torch.long), "need log_probs"),
        (torch.zeros(4), torch.zeros(4, dtype=torch.long), "need log_probs"),
        (torch.zeros(3, 2), torch.tensor([0, 2, 1]), "labels must lie"),
        (torch.zeros(3, 2), torch.tensor([0, 0, 0]), "classes \\[1\\] have no case"),
        (torch.tensor([[0.0, float("nan")], [0.0, 1.0]]), torch.tensor([0, 1]), "NaN"),
    ],
)
def test_fit_refuses_bad_inputs(log_probs: torch.Tensor, labels: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit_logit_offset(log_probs, labels)


def _evaluator(
    network: Classifier, x: torch.Tensor, y: torch.Tensor, handler: LogitOffsetCalibration
) -> SupervisedEvaluator:
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    return SupervisedEvaluator(
        device=torch.device("cpu"),
        val_data_loader=loader,
        network=network,
        prepare_batch=lambda batch, device, non_blocking, **kw: (batch[0], batch[1]),
        postprocessing=Compose([Activationsd(keys="pred", softmax=True), AsDiscreted(keys="label", to_onehot=2)]),
        val_handlers=[handler],
    )


def _accuracy(network: Classifier, x: torch.Tensor, y: torch.Tensor) -> float:
    network.eval()
    with torch.no_grad():
        return (network(x).argmax(1) == y).float().mean().item()


def test_handler_folds_the_fitted_offset_into_the_saved_weights(caplog: pytest.LogCaptureFixture) -> None:
    torch.manual_seed(0)
    net = Classifier(spatial_dims=3, in_channels=1, out_channels=2, channels=[4, 8], strides=[2, 2])
    x = torch.rand(64, 1, 8, 8, 8)
    net.eval()
    with torch.no_grad():
        gap = net(x)[:, 1] - net(x)[:, 0]
    y = (gap > gap.median()).long()  # the network ranks perfectly; only its threshold is off
    net.prior_correction.copy_(torch.tensor([0.0, 50.0]))  # eval logits of class 1 pushed far down
    assert _accuracy(net, x, y) == pytest.approx(0.5)
    handler = LogitOffsetCalibration(network=net)
    with caplog.at_level(logging.INFO, logger="monai_ext.engines.training.logit_offset"):
        _evaluator(net, x, y, handler).run()
    assert handler.last_offsets is not None and handler.last_offsets[1] == pytest.approx(5.0)  # clipped
    assert net.prior_correction.tolist() == pytest.approx([0.0, 45.0])
    assert "fitted on 64 validation cases" in caplog.text
    for _ in range(12):  # later validations continue from the offsets already applied
        _evaluator(net, x, y, handler).run()
    assert _accuracy(net, x, y) >= 0.95
    assert "prior_correction" in net.state_dict()


def test_handler_disabled_leaves_the_network_alone_and_needs_a_prior_buffer() -> None:
    net = Classifier(spatial_dims=3, in_channels=1, out_channels=2, channels=[4, 8], strides=[2, 2])
    x, y = torch.rand(8, 1, 8, 8, 8), torch.tensor([0, 1] * 4)
    _evaluator(net, x, y, LogitOffsetCalibration(network=net, enabled=False)).run()
    assert net.prior_correction.tolist() == [0.0, 0.0]
    with pytest.raises(TypeError, match="no prior_correction buffer"):
        LogitOffsetCalibration(network=torch.nn.Linear(2, 2))


def test_handler_skips_a_validation_without_every_class(caplog: pytest.LogCaptureFixture) -> None:
    net = Classifier(spatial_dims=3, in_channels=1, out_channels=2, channels=[4, 8], strides=[2, 2])
    x, y = torch.rand(8, 1, 8, 8, 8), torch.zeros(8, dtype=torch.long)
    with caplog.at_level(logging.WARNING, logger="monai_ext.engines.training.logit_offset"):
        _evaluator(net, x, y, LogitOffsetCalibration(network=net)).run()
    assert net.prior_correction.tolist() == [0.0, 0.0]
    assert "not fitted" in caplog.text and "have no case" in caplog.text
