"""The consistency loss: supervised on both views of each sample, and pulling their probabilities together."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from monai_ext.engines import ConsistencyLoss, js_divergence


def test_js_divergence_bounds() -> None:
    logits = torch.randn(5, 3)
    assert float(js_divergence(logits, logits)) == pytest.approx(0.0, abs=1e-7)
    certain = torch.tensor([[40.0, -40.0]])
    assert float(js_divergence(certain, -certain)) == pytest.approx(math.log(2.0), rel=1e-5)
    a, b = torch.randn(4, 2), torch.randn(4, 2)
    assert float(js_divergence(a, b)) == pytest.approx(float(js_divergence(b, a)))  # symmetric


def test_identical_views_give_the_supervised_loss() -> None:
    ce = nn.CrossEntropyLoss()
    logits = torch.randn(3, 2)
    target = torch.tensor([0, 1, 1])
    pairs = torch.cat([logits, logits])
    assert float(ConsistencyLoss(loss=ce, weight=12.0)(pairs, target)) == pytest.approx(float(ce(logits, target)))
    assert float(ConsistencyLoss(loss=ce)(pairs, target.repeat(2))) == pytest.approx(float(ce(logits, target)))


def test_the_gradient_pulls_the_views_together() -> None:
    views = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], requires_grad=True)  # one sample: p(class 0) 0.73 vs 0.27
    ConsistencyLoss(loss=nn.CrossEntropyLoss(), weight=12.0)(views, torch.tensor([1])).backward()
    no_consistency = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], requires_grad=True)
    ConsistencyLoss(loss=nn.CrossEntropyLoss(), weight=0.0)(no_consistency, torch.tensor([1])).backward()
    assert views.grad is not None and no_consistency.grad is not None
    # descending the loss lowers the first view's class-0 logit and raises the second's, by more than CE alone
    assert views.grad[0, 0] > no_consistency.grad[0, 0] > 0
    assert views.grad[1, 0] < 0 < no_consistency.grad[1, 0]


def test_bad_batches_are_refused() -> None:
    loss = ConsistencyLoss(loss=nn.CrossEntropyLoss())
    with pytest.raises(ValueError, match="pairs"):
        loss(torch.zeros(3, 2), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="fits neither"):
        loss(torch.zeros(4, 2), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="weight"):
        ConsistencyLoss(loss=nn.CrossEntropyLoss(), weight=-1.0)
