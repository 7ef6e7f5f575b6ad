"""bfloat16 autocast for MONAI's SupervisedTrainer on a CPU: convolutions in bfloat16, loss and weights in float32."""

from __future__ import annotations

import pytest
import torch
from monai.engines import SupervisedTrainer
from monai.losses import DiceCELoss
from torch import nn

from monai_ext.engines import CpuAutocastIteration, Float32Loss, cpu_amp_enabled, cpu_autocast_iteration


def _trainer(loss: nn.Module, iteration_update: object) -> tuple[SupervisedTrainer, nn.Module, list[torch.dtype]]:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.BatchNorm3d(4), nn.ReLU(), nn.Conv3d(4, 3, 1))
    seen: list[torch.dtype] = []
    net[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    data = [{"image": torch.rand(2, 1, 8, 8, 8), "label": torch.randint(0, 3, (2, 1, 8, 8, 8))}]
    trainer = SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=1,
        train_data_loader=data,
        network=net,
        optimizer=torch.optim.SGD(net.parameters(), lr=0.1),
        loss_function=loss,
        iteration_update=iteration_update,  # type: ignore[arg-type]
        decollate=False,
    )
    return trainer, net, seen


def _dice_ce() -> DiceCELoss:
    return DiceCELoss(to_onehot_y=True, softmax=True, batch=True)


def test_the_trainers_iteration_runs_its_convolutions_in_bfloat16_and_keeps_float32_weights() -> None:
    trainer, net, seen = _trainer(Float32Loss(loss=_dice_ce()), CpuAutocastIteration())
    before = net[0].weight.detach().clone()
    trainer.run()
    assert seen == [torch.bfloat16]
    assert trainer.state.output["loss"].dtype == torch.float32 and torch.isfinite(trainer.state.output["loss"])
    assert all(p.dtype == torch.float32 for p in net.parameters()) and not torch.equal(before, net[0].weight)
    assert net[1].running_mean.dtype == torch.float32 and net[1].running_mean.abs().sum() > 0


def test_the_batch_preparation_stays_float32_inside_the_autocast_iteration() -> None:
    blur = nn.Conv3d(1, 1, 3, padding=1, bias=False)  # a convolution: autocast would run it in bfloat16
    prepared: list[torch.dtype] = []

    def prepare(batch: dict[str, torch.Tensor], *args: object, **kwargs: object) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            image = blur(batch["image"])  # a batch augmentation on the device, as AugmentedBatch runs one
        prepared.append(image.dtype)
        return image, batch["label"]

    trainer, _, seen = _trainer(Float32Loss(loss=_dice_ce()), CpuAutocastIteration())
    trainer.prepare_batch = prepare
    trainer.run()
    assert prepared == [torch.float32] and seen == [torch.bfloat16]
    assert trainer.prepare_batch is prepare  # restored after the iteration


def test_without_it_the_trainer_stays_in_float32() -> None:
    trainer, _, seen = _trainer(Float32Loss(loss=_dice_ce()), cpu_autocast_iteration(enabled=False))
    trainer.run()
    assert seen == [torch.float32]


def test_float32_loss_equals_the_loss_of_the_upcast_input_even_under_autocast() -> None:
    logits = torch.randn(2, 3, 6, 6, 6).to(torch.bfloat16)
    label = torch.randint(0, 3, (2, 1, 6, 6, 6))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        wrapped = Float32Loss(loss=_dice_ce())(logits, label)
    assert wrapped.dtype == torch.float32
    assert torch.equal(wrapped, _dice_ce()(logits.float(), label))


def test_float32_loss_upcasts_a_floating_target_too() -> None:
    seen: list[torch.dtype] = []

    class Probe(nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            seen.extend([a.dtype, b.dtype])
            return (a - b).abs().mean()

    Float32Loss(loss=Probe())(torch.ones(3, dtype=torch.bfloat16), torch.zeros(3, dtype=torch.bfloat16))
    assert seen == [torch.float32, torch.float32]


def test_only_bfloat16_is_accepted() -> None:
    with pytest.raises(ValueError, match="bfloat16 only"):
        CpuAutocastIteration(dtype=torch.float16)


def test_cpu_amp_needs_a_cpu_with_native_bfloat16(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cpu_amp_enabled("cuda") is False and cpu_amp_enabled("cuda:1") is False
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True, raising=False)
    assert cpu_amp_enabled("cpu") is True
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert cpu_amp_enabled(torch.device("cpu")) is False
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    assert cpu_amp_enabled("cpu") is False
