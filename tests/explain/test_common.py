"""Shared explainer helpers: train flags restored one module at a time, in-place scaling equal to ``unit_max``,
one definition of each helper behind the old import paths."""

from __future__ import annotations

import torch
from torch import nn

from monai_ext import explain
from monai_ext.explain.attribution import _common, gradcam, layers, upsample
from monai_ext.explain.attribution._common import as_input, evaluating, unit_max, unit_max_


class CountingTrain(nn.Sequential):
    """Counts ``train()`` calls (``eval()`` is ``train(False)``)."""

    calls = 0

    def train(self, mode: bool = True) -> CountingTrain:
        CountingTrain.calls += 1
        return super().train(mode)


def test_evaluating_restores_each_flag_without_train_calls() -> None:
    net = CountingTrain(nn.Linear(2, 2), nn.Sequential(nn.Dropout(), nn.BatchNorm1d(2)))
    net.train()
    net[1][0].eval()  # a mixed state that a recursive train(True) would lose
    before = [m.training for m in net.modules()]
    CountingTrain.calls = 0
    with torch.inference_mode():
        x = torch.rand(3, 2)
    with evaluating(net, "cpu"):
        assert not any(m.training for m in net.modules())
        assert not torch.is_inference_mode_enabled()
        assert not as_input(x).is_inference()
    assert [m.training for m in net.modules()] == before
    assert CountingTrain.calls == 1  # eval() on entry only


def test_evaluating_leaves_an_eval_model_alone() -> None:
    net = CountingTrain(nn.Linear(2, 2)).eval()
    CountingTrain.calls = 0
    with evaluating(net, "cpu"):
        pass
    assert CountingTrain.calls == 0 and not net.training


def test_unit_max_in_place_equals_unit_max_on_non_negative_maps() -> None:
    maps = torch.rand(3, 1, 5, 6, 7)
    maps[1] = 0  # no positive evidence -> stays 0
    expected = unit_max(maps)
    out = unit_max_(maps)
    assert out is maps and torch.equal(out, expected)
    assert float(out[0].max()) == 1.0 and not out[1].any()


def test_helpers_have_one_definition_behind_the_old_import_paths() -> None:
    assert gradcam.Target is _common.Target and gradcam._select is _common._select
    assert gradcam.default_target_layer is layers.default_target_layer is explain.default_target_layer
    assert gradcam.upsample_map is upsample.upsample_map is explain.upsample_map
