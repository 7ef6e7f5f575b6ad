"""Generator and discriminator: shapes, value range, keyword-only construction, Grad-CAM-friendly layers."""

from __future__ import annotations

import pytest
import torch

from monai_ext.networks import Discriminator, Generator


@pytest.mark.parametrize(("channels", "start", "side"), [((16, 8), 4, 16), ((16, 8, 4), 4, 32), ((8,), 2, 4)])
def test_generator_shape_and_range(channels: tuple[int, ...], start: int, side: int) -> None:
    g = Generator(latent_size=8, channels=channels, start_size=start)
    out = g(torch.randn(3, 8) * 10)
    assert out.shape == (3, 1, side, side, side)
    assert g.output_size == side
    assert out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1


def test_generator_2d_and_default_bundle_size() -> None:
    assert Generator(spatial_dims=2, latent_size=4, channels=(8, 4))(torch.randn(2, 4)).shape == (2, 1, 16, 16)
    assert Generator()(torch.randn(1, 64)).shape == (1, 1, 32, 32, 32)


def test_generator_eval_output_independent_of_batch() -> None:
    g = Generator(latent_size=8, channels=(8, 4)).eval()
    z = torch.randn(4, 8)
    torch.testing.assert_close(g(z)[1:2], g(z[1:2]))


@pytest.mark.parametrize("side", [16, 32])
def test_discriminator_logits_and_stages(side: int) -> None:
    d = Discriminator(channels=(4, 8), spatial_size=side)
    x = torch.rand(5, 1, side, side, side)
    assert d(x).shape == (5, 1)
    names = dict(d.named_modules())
    assert "stages.0" in names and "stages.1" in names
    assert d.stages[1](d.stages[0](x)).shape == (5, 8, side // 4, side // 4, side // 4)


def test_discriminator_samples_do_not_interact() -> None:
    d = Discriminator(channels=(4, 8), spatial_size=16).eval()
    x = torch.rand(3, 1, 16, 16, 16)
    torch.testing.assert_close(d(x)[2:], d(x[2:]))


def test_discriminator_rejects_bad_size_and_positional_args() -> None:
    with pytest.raises(ValueError, match="divisible"):
        Discriminator(channels=(4, 8, 16), spatial_size=20)
    with pytest.raises(TypeError):
        Generator(3, 64)  # type: ignore[misc]


def test_spectral_norm_bounds_the_discriminator_weights() -> None:
    d = Discriminator(channels=(4, 8), spatial_size=16)
    for _ in range(20):  # power iterations run in training-mode forwards
        d(torch.rand(2, 1, 16, 16, 16))
    weight = d.stages[1][0].weight
    sigma = torch.linalg.matrix_norm(weight.detach().flatten(1), ord=2)
    assert sigma.item() == pytest.approx(1.0, rel=0.1)
