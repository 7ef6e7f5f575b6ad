"""Export a bundle's network to TorchScript and ONNX, both carrying the bundle's ``metadata.json``.

MONAI's ``ckpt_export`` stores ``metadata.json`` as a TorchScript extra file, but its ``onnx_export``
writes no metadata at all; here the ONNX model gets it as ``metadata_props`` (key ``metadata.json``),
so a deployment runtime can read class names, value ranges and versions from the model file alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from monai_ext.io.atomic import atomic_path

__all__ = ["METADATA_KEY", "example_input", "export_onnx", "export_torchscript", "read_onnx_metadata"]

METADATA_KEY = "metadata.json"


def example_input(metadata: Mapping[str, Any], name: str | None = None, batch: int = 1) -> torch.Tensor:
    """A zero tensor ``(batch, C, *spatial)`` of the input declared in ``network_data_format``.

    Raises:
        KeyError: the input is not declared; ValueError: its spatial shape is not all integers.
    """
    inputs = metadata["network_data_format"]["inputs"]
    spec = inputs[name or next(iter(inputs))]
    shape = spec["spatial_shape"]
    if not all(isinstance(s, int) for s in shape):
        raise ValueError(f"input {name!r} has a symbolic spatial_shape {shape}; give an explicit example")
    return torch.zeros(batch, int(spec["num_channels"]), *shape, dtype=getattr(torch, spec.get("dtype", "float32")))


def export_torchscript(network: nn.Module, path: str | os.PathLike[str], metadata: Mapping[str, Any]) -> Path:
    """Script (or trace when scripting fails) ``network`` and save it with ``metadata.json`` as an extra file."""
    network = network.eval()
    try:
        module = torch.jit.script(network)
    except Exception:
        module = torch.jit.trace(network, example_input(metadata))
    with atomic_path(path) as tmp:
        torch.jit.save(module, str(tmp), _extra_files={METADATA_KEY: json.dumps(dict(metadata))})
    return Path(path)


def export_onnx(
    network: nn.Module,
    path: str | os.PathLike[str],
    metadata: Mapping[str, Any],
    *,
    example: torch.Tensor | None = None,
    input_names: Sequence[str] = ("image",),
    output_names: Sequence[str] = ("pred",),
    opset: int = 17,
    check: bool = True,
    atol: float = 1e-4,
) -> Path:
    """Export ``network`` to ONNX (dynamic batch axis) with ``metadata.json`` in ``metadata_props``.

    Args:
        network: the network, weights loaded.
        path: output ``.onnx`` file (written atomically).
        metadata: the bundle metadata (stored verbatim as JSON).
        example: example input; default from ``metadata`` (:func:`example_input`).
        input_names: ONNX input names.
        output_names: ONNX output names.
        opset: ONNX opset.
        check: run the model in onnxruntime on ``example`` and compare with torch.
        atol: tolerance of that comparison.

    Raises:
        RuntimeError: onnxruntime's output differs from torch's by more than ``atol``.
    """
    import onnx

    network = network.eval().float()
    example = example_input(metadata) if example is None else example
    dynamic = {name: {0: "batch"} for name in (*input_names, *output_names)}
    with atomic_path(path) as tmp:
        torch.onnx.export(
            network,
            (example,),
            str(tmp),
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_axes=dynamic,
            opset_version=opset,
            dynamo=False,
        )
        model = onnx.load(str(tmp))
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, json.dumps(dict(metadata))
        onnx.save(model, str(tmp))
        if check:
            _check_onnx(tmp, network, example, atol)
    return Path(path)


def read_onnx_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The bundle metadata stored in an ONNX file by :func:`export_onnx` (empty dict when absent)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    props = {p.key: p.value for p in model.metadata_props}
    return json.loads(props[METADATA_KEY]) if METADATA_KEY in props else {}


def _check_onnx(path: Path, network: nn.Module, example: torch.Tensor, atol: float) -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: example.numpy()}
    got = session.run(None, feed)[0]
    with torch.no_grad():
        want = network(example)
    want_np = (want[0] if isinstance(want, (tuple, list)) else want).numpy()
    error = float(np.abs(got - want_np).max())
    if error > atol:
        raise RuntimeError(f"{path}: onnxruntime differs from torch by {error:.3g} (> {atol})")
