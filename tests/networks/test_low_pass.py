"""The anti-aliasing low-pass filter and the encoder option that puts it in front of every strided stage."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from monai_ext.networks import Classifier, Encoder, LowPass


def test_blur_keeps_shape_mass_and_constants() -> None:
    blur = LowPass(spatial_dims=3, channels=2)
    x = torch.rand(3, 2, 7, 6, 5)
    y = blur(x)
    assert y.shape == x.shape
    assert torch.allclose(blur(torch.full_like(x, 0.7)), torch.full_like(x, 0.7))  # the border repeats edges
    interior = torch.zeros(1, 2, 7, 7, 7)
    interior[:, :, 3, 3, 3] = 1
    assert torch.allclose(blur(interior).sum(dim=(2, 3, 4)), torch.ones(1, 2))  # away from the border: mass kept
    assert torch.equal(LowPass(channels=2, size=1)(x), x)
    fast = blur(x.contiguous(memory_format=torch.channels_last_3d))
    assert torch.allclose(fast, y, atol=1e-6)


def test_blur_removes_what_a_stride_would_alias() -> None:
    """A voxel checkerboard subsampled by 2 flips sign when moved by one voxel; blurred first, it does not."""
    idx = torch.arange(16)
    board = ((idx[:, None, None] + idx[None, :, None] + idx[None, None, :]) % 2).float()[None, None]
    moved = torch.roll(board, 1, dims=2)
    raw = (board[..., ::2, ::2, ::2], moved[..., ::2, ::2, ::2])
    assert (raw[0] - raw[1]).abs().max() == 1.0
    blur = LowPass(channels=1)
    smooth = (blur(board)[..., 2:-2:2, 2:-2:2, 2:-2:2], blur(moved)[..., 2:-2:2, 2:-2:2, 2:-2:2])
    assert torch.allclose(smooth[0], smooth[1], atol=1e-6)


def test_antialias_changes_the_forward_but_not_the_state_dict() -> None:
    torch.manual_seed(0)
    plain = Encoder(in_channels=2, channels=(4, 8), strides=(2, 2)).eval()
    smooth = Encoder(in_channels=2, channels=(4, 8), strides=(2, 2), antialias=True).eval()
    assert plain.state_dict().keys() == smooth.state_dict().keys()
    smooth.load_state_dict(plain.state_dict())  # weights trained either way load into the other
    constant = torch.full((1, 2, 16, 16, 16), 0.5)
    first = (plain.stages[0], smooth.stages[0])
    assert torch.allclose(first[1](smooth.low_pass[0](constant)), first[0](constant), atol=1e-6)  # blurred constant
    x = torch.rand(1, 2, 16, 16, 16)
    assert not torch.allclose(smooth(x), plain(x), atol=1e-3)
    net = Classifier(in_channels=2, channels=(4, 8), strides=(1, 2), antialias=True)
    assert isinstance(net.backbone.low_pass[0], torch.nn.Identity)  # no blur in front of a stride of 1
    assert isinstance(net.backbone.low_pass[1], LowPass)


def test_antialias_makes_a_random_encoder_less_shift_sensitive() -> None:
    """On smooth inputs moved by one voxel, the same random weights change their output less when blurred."""
    torch.manual_seed(1)
    plain = Encoder(in_channels=1, channels=(8, 16, 32), strides=(2, 2, 2)).eval()
    smooth = Encoder(in_channels=1, channels=(8, 16, 32), strides=(2, 2, 2), antialias=True).eval()
    smooth.load_state_dict(plain.state_dict())
    x = F.avg_pool3d(torch.rand(8, 1, 36, 36, 36), 3, 1)  # (8, 1, 34, 34, 34)
    a, b = x[..., :32, :32, :32], x[..., 1:33, 1:33, 1:33]

    @torch.no_grad()
    def change(net: Encoder) -> float:
        pa, pb = net(a).mean(dim=(2, 3, 4)), net(b).mean(dim=(2, 3, 4))
        return float(((pa - pb).norm(dim=1) / pa.norm(dim=1)).mean())

    assert change(smooth) < 0.3 * change(plain)  # measured: 10-25x less for seeds 1-3


def test_bad_filters_are_refused() -> None:
    with pytest.raises(ValueError, match="size"):
        LowPass(size=7)
    with pytest.raises(ValueError, match="spatial_dims"):
        LowPass(spatial_dims=4)


@pytest.mark.parametrize("spatial_dims", [1, 2, 3])
def test_scripts_with_torchscript_and_gives_the_same_output(spatial_dims: int) -> None:
    """``monai.bundle ckpt_export`` scripts the whole network, so the filter must compile."""
    blur = LowPass(spatial_dims=spatial_dims, channels=2)
    x = torch.rand(1, 2, *([7] * spatial_dims))
    torch.testing.assert_close(torch.jit.script(blur)(x), blur(x))
