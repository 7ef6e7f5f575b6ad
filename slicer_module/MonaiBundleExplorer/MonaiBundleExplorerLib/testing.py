"""A tiny bundle and a stand-in runner for the module's self-test and the CI tests.

TEST USE ONLY. The real inference path is ``monai_ext.bundle.runner:run_bundle`` (see ``worker.runBundle``). This
runner has no trained weights: a fixed two-class linear model on the z-scored volume, whose gradient-times-input
map is the heatmap, so outputs are deterministic and need only numpy (plus nibabel for NIfTI inputs).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from .volumeFiles import miniNrrd

RUNNER = "MonaiBundleExplorerLib.testing:runTinyBundle"
CLASS_NAMES = ["uniform", "left-right gradient"]
# The segmentation output of the mask variant (shared contract: values, names, 0-255 colours).
SEGMENT_LABELS = [
    {"value": 1, "name": "low", "color": [30, 144, 255]},
    {"value": 2, "name": "high", "color": [255, 99, 71]},
]


def writeTinyBundle(folder: str | os.PathLike, maskInput: bool = False) -> Path:
    """A MONAI-layout bundle folder holding only metadata (the stand-in runner needs no weights).

    ``maskInput``: the input is declared a mask (a segment can be the input) and a segmentation output is added.
    """
    folder = Path(folder)
    (folder / "configs").mkdir(parents=True, exist_ok=True)
    (folder / "docs").mkdir(exist_ok=True)
    metadata = {
        "name": "tiny_test_bundle",
        "version": "0.0.1",
        "task": "Self-test classification (synthetic, no trained weights)",
        "description": "Two-class linear model used by the MonaiBundleExplorer self-test.",
        "license": "Apache-2.0",
        "class_names": CLASS_NAMES,
        "metrics": {"note": "synthetic; not a trained model"},
        "network_data_format": {
            "inputs": {"image": {"type": "image", "format": "magnitude", "num_channels": 1}},
            "outputs": {"pred": {"type": "probabilities", "num_channels": 2}, "heatmap": {"type": "image"}},
        },
    }
    if maskInput:
        metadata["network_data_format"]["inputs"]["image"].update(format="segmentation", modality="binary mask")
        metadata["network_data_format"]["outputs"]["segmentation"] = {
            "type": "segmentation",
            "labels": {str(label["value"]): label["name"] for label in SEGMENT_LABELS},
            "label_colors": {str(label["value"]): label["color"] for label in SEGMENT_LABELS},
        }
    (folder / "configs" / "metadata.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    (folder / "LICENSE").write_text("Apache-2.0\n", encoding="utf-8")
    (folder / "docs" / "README.md").write_text("Synthetic self-test bundle.\n", encoding="utf-8")
    return folder


def runTinyBundle(request: dict, progress) -> dict:
    """Runner protocol (see ``worker``): read the input, score two classes, write the heatmap on the input grid."""
    progress("load", 0.1, "Reading the input volume")
    inputPath = request["inputPath"]
    array, affine = readVolume(inputPath)
    metadata = json.loads((Path(request["bundlePath"]) / "configs" / "metadata.json").read_text())
    classNames = metadata["class_names"]
    time.sleep(float(request.get("testDelaySeconds", 0.0)))
    progress("infer", 0.5, f"Running on {request.get('device', 'auto')}")
    values = array.astype(np.float64)
    z = (values - values.mean()) / (values.std() + 1e-6)
    ramp = np.broadcast_to(np.linspace(-1.0, 1.0, z.shape[0])[:, None, None], z.shape)
    weights = [np.ones_like(z), ramp]
    logits = np.array([5.0 * np.mean(w * z) for w in weights])
    probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    progress("heatmap", 0.8, f"Computing the {request.get('heatmapMethod', 'gradcam')} map")
    heatmap = np.abs(weights[int(np.argmax(probabilities))] * z)
    heatmap = (heatmap / heatmap.max() if heatmap.max() > 0 else heatmap).astype(np.float32)
    suffix = ".nrrd" if str(inputPath).endswith(".nrrd") else ".nii.gz"
    heatmapPath = os.path.join(request["outputDir"], "heatmap" + suffix)
    writeVolume(heatmapPath, heatmap, affine)
    result = {
        "classNames": classNames,
        "probabilities": [float(p) for p in probabilities],
        "maps": {"heatmap": heatmapPath},
        "heatmaps": ["heatmap"],
        "device": "cpu",
        **reportedProtections(),
    }
    if "segmentation" in metadata["network_data_format"]["outputs"]:
        progress("segment", 0.9, "Writing the segmentation")
        result = addSegmentation(result, z, affine, request["outputDir"], suffix)
    return result


def reportedProtections() -> dict:
    """``{"protections": ...}`` as the real runner reports it (the worker's sandbox), or ``{}`` without monai_ext."""
    try:
        from monai_ext.sandbox import current_protections
    except ImportError:
        return {}
    return {"protections": current_protections().to_json()}


def addSegmentation(result: dict, z: np.ndarray, affine: np.ndarray, outputDir: str, suffix: str) -> dict:
    """Labels ``low`` (z < -0.5) and ``high`` (z > 0.5) and their probability maps (the shared contract)."""
    labels = np.zeros(z.shape, np.uint8)
    labels[z < -0.5], labels[z > 0.5] = 1, 2
    path = os.path.join(outputDir, "segmentation" + suffix)
    writeVolume(path, labels, affine)
    spacing = np.linalg.norm(np.asarray(affine)[:3, :3], axis=0)
    entries = []
    for label, sign in zip(SEGMENT_LABELS, (-1.0, 1.0)):
        probabilityPath = os.path.join(outputDir, f"segmentation_prob_{label['name']}{suffix}")
        writeVolume(probabilityPath, (1.0 / (1.0 + np.exp(-4.0 * sign * z))).astype(np.float32), affine)
        voxels = int((labels == label["value"]).sum())
        entries.append(dict(label, voxels=voxels, volume_mm3=float(voxels * np.prod(spacing)),
                            probability_map=probabilityPath))  # fmt: skip
        result["maps"][f"segmentation_prob_{label['name']}"] = probabilityPath
        result["heatmaps"].append(f"segmentation_prob_{label['name']}")
    result["segmentations"] = {"segmentation": {"path": path, "kind": "labels", "labels": entries}}
    return result


def readVolume(path) -> tuple[np.ndarray, np.ndarray]:
    if str(path).endswith(".nrrd"):
        return miniNrrd.readNrrd(path)
    import nibabel

    image = nibabel.load(str(path))
    return np.asarray(image.dataobj), image.affine


def writeVolume(path, arrayIjk: np.ndarray, affine: np.ndarray) -> None:
    if str(path).endswith(".nrrd"):
        miniNrrd.writeNrrd(path, arrayIjk, affine)
        return
    import nibabel

    nibabel.save(nibabel.Nifti1Image(arrayIjk, affine), str(path))
