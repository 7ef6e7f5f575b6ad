"""Encoder and Classifier shapes, and transfer of encoder weights into the classifier backbone."""

from __future__ import annotations

import pytest
import torch

from monai_ext.networks import Classifier, Encoder


def test_encoder_shapes_and_reduction() -> None:
    enc = Encoder(spatial_dims=3, in_channels=2, channels=(4, 8, 16), strides=(2, 2, 1))
    assert enc.reduction == 4
    assert enc.out_channels == 16
    assert enc(torch.zeros(1, 2, 16, 16, 16)).shape == (1, 16, 4, 4, 4)
    with pytest.raises(ValueError, match="same length"):
        Encoder(channels=(4, 8), strides=(2,))


def test_classifier_logits_and_channels_last() -> None:
    net = Classifier(out_channels=3, channels=(4, 8), strides=(2, 2)).eval()
    x = torch.rand(2, 1, 16, 16, 16)
    logits = net(x)
    assert logits.shape == (2, 3)
    fast = net.to(memory_format=torch.channels_last_3d)
    assert torch.allclose(fast(x.contiguous(memory_format=torch.channels_last_3d)), logits, atol=1e-5)


def test_encoder_state_dict_fits_the_backbone() -> None:
    enc = Encoder(channels=(4, 8), strides=(2, 2))
    net = Classifier(channels=(4, 8), strides=(2, 2))
    missing = net.backbone.load_state_dict(enc.state_dict())
    assert not missing.missing_keys
    assert not missing.unexpected_keys


def test_prior_correction_shifts_eval_logits_only() -> None:
    torch.manual_seed(0)
    net = Classifier(channels=(4, 8), strides=(2, 2), dropout=0.0)
    x = torch.rand(4, 1, 16, 16, 16)
    net.eval()
    plain = net(x)
    net.set_prior_correction([1.0, 4.0])
    corrected = net(x)
    assert torch.allclose(corrected, plain - torch.log(torch.tensor([1.0, 4.0])), atol=1e-6)
    assert "prior_correction" in net.state_dict()
    net.train()
    net.backbone.eval()  # keep batch-norm statistics fixed so only the correction can differ
    assert torch.allclose(net(x), plain, atol=1e-5)
