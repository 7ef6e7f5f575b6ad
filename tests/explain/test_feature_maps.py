"""Feature maps: the named layer's output scaled per channel, hook removed; the montage PNG is written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.image import imread
from torch import nn

from monai_ext.explain.attribution.feature_maps import feature_maps, save_feature_montage


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    first = nn.Conv3d(1, 4, 3, stride=2, padding=1)
    with torch.no_grad():
        first.weight[3].zero_()  # channel 3 is constant (its bias)
    return nn.Sequential(first, nn.BatchNorm3d(4), nn.ReLU(), nn.Conv3d(4, 2, 1))


def _hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_layer_output_scaled_per_channel() -> None:
    net = _net().train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.rand(2, 1, 16, 16, 16)
    maps = feature_maps(net, x, "1")
    with torch.no_grad():
        raw = net[1].eval()(net[0](x))
    net.train()
    low = raw.amin(dim=(2, 3, 4), keepdim=True)
    expected = (raw - low) / (raw.amax(dim=(2, 3, 4), keepdim=True) - low).clamp_min(1e-30)
    assert maps.shape == (2, 4, 8, 8, 8) and maps.dtype == torch.float32
    torch.testing.assert_close(maps[:, :3], expected[:, :3])
    assert torch.count_nonzero(maps[:, 3]) == 0  # a constant channel
    assert maps.min() >= 0 and maps.max() <= 1
    assert _hooks(net) == 0 and all(m.training for m in net.modules())
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, before[k], msg=k)


def test_upsampled_to_the_input_grid_and_2d() -> None:
    with torch.no_grad():
        maps = feature_maps(_net(), torch.rand(1, 1, 16, 16, 16), "3", size=(16, 16, 16))
    assert maps.shape == (1, 2, 16, 16, 16)
    assert torch.allclose(maps.flatten(2).amax(2), torch.ones(1, 2))
    assert torch.allclose(maps.flatten(2).amin(2), torch.zeros(1, 2))
    net2d = nn.Sequential(nn.Conv2d(1, 3, 3, stride=2, padding=1), nn.ReLU())
    assert feature_maps(net2d, torch.rand(2, 1, 12, 10), "0", size=[12, 10]).shape == (2, 3, 12, 10)


def test_unknown_layer_names_the_layers() -> None:
    net = _net()
    with pytest.raises(KeyError, match=r"no layer 'conv9'.*'0', '1', '2', '3'"):
        feature_maps(net, torch.rand(1, 1, 8, 8, 8), "conv9")
    unused = nn.ModuleDict({"used": nn.Conv3d(1, 1, 1), "spare": nn.Conv3d(1, 1, 1)})

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = unused

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.blocks["used"](x)

    with pytest.raises(ValueError, match="not used"):
        feature_maps(Net(), torch.rand(1, 1, 8, 8, 8), "blocks.spare")
    assert _hooks(net) == 0 and _hooks(unused) == 0


def test_montage_png_grid_atomic(tmp_path: Path) -> None:
    out = tmp_path / "features.png"
    out.write_bytes(b"old")
    assert save_feature_montage(torch.rand(20, 8, 6, 4), out) == out  # 16 of 20 channels: a 4 x 4 grid
    assert imread(out).shape[:2] == (800, 800)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features.png"]
    rng = np.random.default_rng(0)
    save_feature_montage(rng.random((3, 8, 6, 4)), out, max_channels=16, axis=0)  # 3 channels: 2 x 2
    assert imread(out).shape[:2] == (400, 400)
    save_feature_montage(rng.random((5, 8, 6)), tmp_path / "flat.png", max_channels=4)  # 2D maps
    assert imread(tmp_path / "flat.png").shape[:2] == (400, 400)
    with pytest.raises(ValueError, match="axis"):
        save_feature_montage(np.zeros((2, 4, 4, 4)), out, axis=3)
    with pytest.raises(ValueError, match="expected maps"):
        save_feature_montage(np.zeros((1, 2, 4, 4, 4)), out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features.png", "flat.png"]
