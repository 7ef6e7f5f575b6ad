"""A real vtkMRMLScene from the slicer-core wheel; every test here is skipped where slicer-core is absent."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]
WORKER_PYTHONPATH = [str(REPO)]
"""What the worker needs besides the module's Lib: ``monai_ext`` (its sandbox, for untrusted requests).

In Slicer the worker Python has monai-ext installed (workerSetup); here the worker is the slicer-core venv's
Python, so the checkout is put on its path. Without it an untrusted request ends in RunnerNotInstalled.
"""


def real_worker_python() -> Path:
    """A Python with torch, MONAI and monai_ext's dependencies for the real runner (skips without one).

    ``MONAI_EXT_MAIN_PYTHON`` names it (a worktree has no ``.venv`` of its own), else the checkout's ``.venv``.
    Runs with it also get ``WORKER_PYTHONPATH`` so this checkout's ``monai_ext`` is the one imported.
    """
    python = Path(os.environ.get("MONAI_EXT_MAIN_PYTHON") or REPO / ".venv" / "bin" / "python")
    if not python.exists():
        pytest.skip(f"the main venv ({python}) is needed for the real runner; run `make setup`")
    return python


SKIP_REASON = "slicer-core is not installed in this Python: run .ci/slicer_env.sh (it has its own venv)"


def require_slicer_core():
    """Import slicer-core's ``slicer`` or skip the calling test module with the reason."""
    slicer = pytest.importorskip("slicer", reason=SKIP_REASON)
    if not hasattr(slicer, "vtkMRMLScene"):
        pytest.skip("the importable 'slicer' package is not slicer-core", allow_module_level=True)
    import slicer.util

    return slicer


_CONVERTERS = []


def register_segmentation_converters(slicer) -> None:
    """What Slicer's Segmentations module does at start-up: register the representation converter rules.

    Without them slicer-core cannot create an empty binary-labelmap segment (``AddEmptySegment`` fails).
    """
    if _CONVERTERS:
        return
    factory = slicer.vtkSegmentationConverterFactory.GetInstance()
    for rule in (
        slicer.vtkBinaryLabelmapToClosedSurfaceConversionRule,
        slicer.vtkClosedSurfaceToBinaryLabelmapConversionRule,
    ):
        _CONVERTERS.append(rule())
        factory.RegisterConverterRule(_CONVERTERS[-1])


@pytest.fixture
def scene():
    """A scene like Slicer's: colour tables and three slice views; ``slicer.mrmlScene`` points at it."""
    slicer = require_slicer_core()
    register_segmentation_converters(slicer)
    scene = slicer.vtkMRMLScene()
    color_logic = slicer.vtkMRMLColorLogic()
    color_logic.SetMRMLScene(scene)
    for name in ("Red", "Yellow", "Green"):
        composite = slicer.vtkMRMLSliceCompositeNode()
        composite.SetLayoutName(name)
        scene.AddNode(composite)
    previous = getattr(slicer, "mrmlScene", None)
    slicer.mrmlScene = scene
    yield scene
    slicer.mrmlScene = previous
    color_logic.SetMRMLScene(None)
    scene.Clear(True)


def add_volume(scene, array_kji: np.ndarray, ijk_to_ras: np.ndarray, name: str = "input"):
    import slicer
    import vtk

    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
    slicer.util.updateVolumeFromArray(node, array_kji)
    matrix = vtk.vtkMatrix4x4()
    slicer.util.updateVTKMatrixFromArray(matrix, ijk_to_ras)
    node.SetIJKToRASMatrix(matrix)
    node.CreateDefaultDisplayNodes()
    return node


@pytest.fixture
def input_volume(scene, oblique_affine):
    k, j, i = np.meshgrid(np.arange(6), np.arange(7), np.arange(8), indexing="ij")
    return add_volume(scene, (10.0 * i + j - 0.5 * k).astype(np.float32), oblique_affine)


def scene_snapshot(scene) -> dict[str, str]:
    """Node ID -> class of every node (to check that nothing was removed or replaced)."""
    nodes = [scene.GetNthNode(index) for index in range(scene.GetNumberOfNodes())]
    return {node.GetID(): node.GetClassName() for node in nodes}
