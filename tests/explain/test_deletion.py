"""Deletion curve: the true map of a toy model scores a lower area than a random or an inverted map."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from monai_ext.explain.map_quality.deletion import deletion_auc, deletion_curve

REGION = (slice(2, 10), slice(4, 12), slice(6, 10))  # 256 of 4096 voxels


class RegionSum(nn.Module):
    """One output: ``scale`` times the sum of the input over ``REGION`` (through a BatchNorm kept in eval)."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.norm = nn.BatchNorm3d(1, affine=False)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * self.norm(x)[(slice(None), 0, *REGION)].sum(dim=(1, 2, 3))[:, None]


def _maps() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(2, 1, 16, 16, 16, generator=generator) + 0.5
    true = torch.zeros(2, 1, 16, 16, 16)
    true[(slice(None), 0, *REGION)] = 1
    return x, true, torch.rand(2, 1, 16, 16, 16, generator=generator), 1 - true


def test_true_map_is_the_most_faithful() -> None:
    x, true, random, inverted = _maps()
    raw = RegionSum()
    raw_score = lambda out: out[:, 0]  # noqa: E731
    aucs = [deletion_auc(raw, x, m, raw_score, steps=16) for m in (true, random, inverted)]
    assert aucs[0] < aucs[1] < aucs[2]
    assert aucs[0] == pytest.approx(0.5 * (256 / 4096), abs=0.01)  # the score is gone after 1/16 of the voxels
    assert aucs[1] == pytest.approx(0.5, abs=0.05)  # a random order deletes the region linearly
    assert aucs[2] > 0.9  # the region goes last
    # through the sigmoid of the single output (the default score), the order is the same
    probability = RegionSum(scale=1 / 256)
    on_probability = [deletion_auc(probability, x, m) for m in (true, random, inverted)]
    assert on_probability[0] < on_probability[1] < on_probability[2]


def test_curve_values_and_shapes() -> None:
    x, true, _, _ = _maps()
    net = RegionSum()
    fractions, scores = deletion_curve(net, x, true[:, 0], lambda out: out[:, 0], steps=4, baseline=0.25)
    assert fractions.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0] and scores.shape == (2, 5)
    with torch.no_grad():
        torch.testing.assert_close(scores[:, 0], net.eval()(x)[:, 0])
    torch.testing.assert_close(scores[:, 1:], torch.full((2, 4), 0.25 * 256), rtol=1e-4, atol=0)  # at the baseline
    # batched = per sample, whatever the batch size
    _, first = deletion_curve(net, x[:1], true[:1], lambda out: out[:, 0], steps=4, baseline=0.25, batch_size=1)
    torch.testing.assert_close(first, scores[:1])


def test_softmax_target_pinned_and_model_untouched() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv3d(1, 2, 3, padding=1), nn.BatchNorm3d(2), nn.AdaptiveAvgPool3d(1), nn.Flatten())
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.rand(2, 1, 8, 8, 8)
    with torch.no_grad():
        _, scores = deletion_curve(net, x, torch.rand(2, 1, 8, 8, 8), steps=3)
    with torch.inference_mode():
        deletion_curve(net, x.clone(), torch.rand(2, 1, 8, 8, 8), steps=3)  # an inference tensor
    with torch.no_grad():
        net.eval()
        probs = torch.softmax(net(x), dim=1)
        net.train()
    torch.testing.assert_close(scores[:, 0], probs.amax(1))  # None: the arg-max class of the intact input
    assert all(m.training for m in net.modules()) and all(p.grad is None for p in net.parameters())
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, before[k], msg=k)
    with pytest.raises(ValueError, match="does not fit"):
        deletion_curve(net, x, torch.rand(2, 1, 8, 8, 4))
    with pytest.raises(ValueError, match="steps"):
        deletion_auc(net, x, torch.rand(2, 1, 8, 8, 8), steps=0)
