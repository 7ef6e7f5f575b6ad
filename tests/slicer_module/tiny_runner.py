"""Stand-in bundle runners for the worker tests (named in the request's ``runner`` field; tests only).

``run_tiny_torch`` runs a tiny 3D CNN with a Grad-CAM map on the input grid; the others exercise the protocol.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np


def run_tiny_torch(request: dict, progress) -> dict:
    import torch

    progress("load", 0.1, "Reading the input")
    image = nib.load(request["inputPath"])
    x = torch.from_numpy(np.asarray(image.dataobj, dtype=np.float32))[None, None]
    torch.manual_seed(0)
    features = torch.nn.Conv3d(1, 4, 3, padding=1)
    head = torch.nn.Linear(4, 2)
    progress("infer", 0.5, "Forward pass")
    activation = torch.relu(features((x - x.mean()) / (x.std() + 1e-6)))
    activation.retain_grad()
    logits = head(activation.mean(dim=(2, 3, 4)))
    probabilities = torch.softmax(logits, dim=1)[0]
    progress("heatmap", 0.8, "Grad-CAM")
    logits[0, int(probabilities.argmax())].backward()
    weights = activation.grad.mean(dim=(2, 3, 4), keepdim=True)
    cam = torch.relu((weights * activation).sum(dim=1))[0].detach().numpy()
    cam = cam / cam.max() if cam.max() > 0 else cam
    path = os.path.join(request["outputDir"], "heatmap.nii.gz")
    nib.save(nib.Nifti1Image(cam.astype(np.float32), image.affine), path)
    return {"classNames": ["a", "b"], "probabilities": probabilities.tolist(), "maps": {"heatmap": path}}


def run_failing(request: dict, progress) -> dict:
    progress("load", 0.2, "About to fail")
    raise ValueError("the bundle's network expects 2 input channels, the volume has 1")


def run_noisy(request: dict, progress) -> dict:
    print("chatter from a library on stdout")
    os.write(1, b"raw bytes written to fd 1\n")
    progress("infer", 0.5, "still fine")
    return {"classNames": ["only"], "probabilities": [1.0], "maps": {}}


def run_with_child(request: dict, progress) -> dict:
    """Start a sleeping child process, report its pid, then sleep: for the cancel test."""
    if request.get("ignoreSigterm"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"]
    )
    Path(request["outputDir"], "child.pid").write_text(str(child.pid))
    progress("waiting", 0.3, f"child {child.pid} started")
    time.sleep(120)
    return {}
