"""TorchScript and ONNX exports keep the bundle metadata and match the eager network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from monai_ext.bundle import SCHEMA_PATH, example_input, export_onnx, export_torchscript, read_onnx_metadata
from monai_ext.networks import Classifier

META = {
    "version": "0.0.1",
    "network_data_format": {
        "inputs": {"image": {"num_channels": 1, "spatial_shape": [16, 16, 16], "dtype": "float32"}},
        "outputs": {"pred": {"num_channels": 2}},
    },
}


@pytest.fixture
def net() -> Classifier:
    torch.manual_seed(0)
    return Classifier(channels=(4, 8), strides=(2, 2)).eval()


def test_onnx_carries_metadata_and_matches_torch(tmp_path: Path, net: Classifier) -> None:
    path = export_onnx(net, tmp_path / "model.onnx", META)
    assert read_onnx_metadata(path) == META
    x = torch.rand(3, 1, 16, 16, 16)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": x.numpy()})[0]
    with torch.no_grad():
        assert np.abs(got - net(x).numpy()).max() < 1e-4


def test_torchscript_carries_metadata(tmp_path: Path, net: Classifier) -> None:
    path = export_torchscript(net, tmp_path / "model.ts", META)
    extra = {"metadata.json": ""}
    module = torch.jit.load(str(path), _extra_files=extra)
    assert json.loads(extra["metadata.json"]) == META
    x = torch.rand(1, 1, 16, 16, 16)
    with torch.no_grad():
        assert torch.allclose(module(x), net(x), atol=1e-5)


def test_example_input_and_schema() -> None:
    assert example_input(META, batch=2).shape == (2, 1, 16, 16, 16)
    assert json.loads(SCHEMA_PATH.read_text())["required"][0] == "version"
