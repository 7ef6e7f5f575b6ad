"""Autoencoder: shapes, output range, and its encoder weights loading into the classifier's backbone."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from monai_ext.engines import ReconstructionLoss, load_pretrained
from monai_ext.networks import Autoencoder, Classifier, Encoder

SMALL = {"channels": (4, 8, 16), "strides": (2, 2, 2)}


@pytest.mark.parametrize(("spatial_dims", "size"), [(3, (16, 16, 16)), (3, (24, 16, 32)), (2, (32, 32))])
def test_reconstruction_has_the_input_shape_and_lies_in_0_1(spatial_dims: int, size: tuple[int, ...]) -> None:
    net = Autoencoder(spatial_dims=spatial_dims, in_channels=1, out_channels=1, **SMALL).eval()
    x = torch.rand(2, 1, *size)
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0


def test_refine_last_and_stride_one_first_stage() -> None:
    net = Autoencoder(channels=(4, 8, 16), strides=(1, 2, 2), refine_last=True).eval()
    with torch.no_grad():
        assert net(torch.rand(1, 1, 16, 16, 16)).shape == (1, 1, 16, 16, 16)


def test_indivisible_size_is_refused() -> None:
    with pytest.raises(ValueError, match="divisible by 8"):
        Autoencoder(**SMALL)(torch.rand(1, 1, 12, 16, 16))


def test_default_encoder_is_the_classifier_backbone() -> None:
    ae, clf = Autoencoder(), Classifier()
    assert isinstance(ae.encoder, Encoder)
    backbone = {k: v.shape for k, v in clf.backbone.state_dict().items()}
    encoder = {k: v.shape for k, v in ae.encoder.state_dict().items()}
    assert encoder == backbone


def test_encoder_weights_load_into_the_classifier_with_load_pretrained(tmp_path: Path) -> None:
    torch.manual_seed(0)
    ae = Autoencoder(**SMALL)
    for p in ae.parameters():
        torch.nn.init.normal_(p)
    path = tmp_path / "ae.pt"
    torch.save(ae.state_dict(), path)
    clf = Classifier(out_channels=2, **SMALL)
    report = load_pretrained(clf, path)
    n_backbone = len(clf.backbone.state_dict())
    assert len(report.loaded) == n_backbone
    assert all(k.startswith("backbone.") for k in report.loaded)
    for key, value in ae.encoder.state_dict().items():
        assert torch.equal(clf.backbone.state_dict()[key], value), key
    assert report.not_in_checkpoint  # the head stays at its initial value
    assert not any(k.startswith("backbone.") for k in report.not_in_checkpoint)


def test_reconstruction_loss_matches_bce_and_l1() -> None:
    pred, target = torch.tensor([0.2, 0.9]), torch.tensor([0.0, 1.0])
    expected = torch.nn.functional.binary_cross_entropy(pred, target) + 0.5 * (pred - target).abs().mean()
    loss = ReconstructionLoss(bce_weight=1.0, l1_weight=0.5)(pred, target)
    assert torch.isclose(loss, expected)
    assert float(ReconstructionLoss()(target, target)) < 1e-4
