"""Volume node -> worker process -> new nodes, end to end against a real scene (the self-test runner)."""

from __future__ import annotations

import csv
import shutil
import sys
import time

import numpy as np
import pytest

from .conftest import require_slicer_core

slicer = require_slicer_core()

from MonaiBundleExplorerLib import pipeline, testing  # noqa: E402
from MonaiBundleExplorerLib.scene import mrmlAdapter  # noqa: E402

from .conftest import REPO, WORKER_PYTHONPATH, add_volume, real_worker_python, scene_snapshot  # noqa: E402


def options(bundle, **extra):
    fields = {"device": "cpu", "runner": testing.RUNNER, "python": sys.executable,
              "extraPythonPath": WORKER_PYTHONPATH, **extra}  # fmt: skip
    return pipeline.InferenceOptions(bundlePath=str(bundle), **fields)


@pytest.mark.parametrize("input_format", [".nrrd", ".nii.gz"])
def test_inference_adds_new_nodes_and_changes_nothing_else(scene, input_volume, tiny_bundle, input_format):
    before = scene_snapshot(scene)
    input_array = slicer.util.arrayFromVolume(input_volume).copy()
    input_matrix = mrmlAdapter.ijkToRasArray(input_volume)
    job = pipeline.InferenceJob(input_volume, options(tiny_bundle, inputFormat=input_format)).start().wait(timeout=120)
    assert job.error is None, job.error
    assert job.progress.fraction == 1.0
    outputs = job.loadOutputs(opacity=0.6, threshold=0.1, colorName="Hot")
    job.cleanup()
    after = scene_snapshot(scene)
    assert {key: after[key] for key in before} == before  # nothing removed or replaced
    added = {after[key] for key in set(after) - set(before)}
    assert {"vtkMRMLScalarVolumeNode", "vtkMRMLTableNode"} <= added
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(input_volume), input_array)
    np.testing.assert_array_equal(mrmlAdapter.ijkToRasArray(input_volume), input_matrix)
    heatmap = outputs.heatmapNode
    np.testing.assert_array_equal(mrmlAdapter.ijkToRasArray(heatmap), input_matrix)
    values = slicer.util.arrayFromVolume(heatmap)
    assert values.shape == input_array.shape and values.min() >= 0 and values.max() == pytest.approx(1.0)
    assert scene.GetFirstNodeByClass("vtkMRMLSliceCompositeNode").GetForegroundVolumeID() == heatmap.GetID()
    table = outputs.tableNode
    assert [table.GetCellText(row, 0) for row in range(table.GetNumberOfRows())] == testing.CLASS_NAMES
    assert sum(float(table.GetCellText(row, 1)) for row in range(2)) == pytest.approx(1.0)


def test_cancel_leaves_the_scene_unchanged(scene, input_volume, tiny_bundle):
    before = scene_snapshot(scene)
    job = pipeline.InferenceJob(input_volume, options(tiny_bundle))
    job._request = lambda _original=job._request, **inputs: {**_original(**inputs), "testDelaySeconds": 60}
    job.start()
    deadline = time.monotonic() + 60
    while job.progress.stage != "load":
        assert not job.done and time.monotonic() < deadline, (job.error, job.log)
        job.poll()
        time.sleep(0.02)
    job.cancel()
    job.wait(timeout=20)
    assert job.error.type == "Cancelled" and job.result is None
    assert scene_snapshot(scene) == before
    job.cleanup()


def test_worker_error_is_kept_with_details(scene, input_volume, tiny_bundle):
    job = (
        pipeline.InferenceJob(input_volume, options(tiny_bundle, runner="no_such_module:run")).start().wait(timeout=60)
    )
    assert job.error.type == "RunnerNotInstalled" and "no_such_module" in job.error.message
    with pytest.raises(RuntimeError, match="no result"):
        job.loadOutputs()


def test_batch_writes_csv_and_table(scene, input_volume, tiny_bundle, tmp_path):
    folder = tmp_path / "volumes"
    folder.mkdir()
    for name in ("a.nrrd", "b.nrrd"):
        mrmlAdapter.writeVolumeNode(input_volume, str(folder / name))
    (folder / "c.nrrd").write_text("NRRD0004\nbroken\n\n")
    before = scene_snapshot(scene)
    job = pipeline.BatchJob(sorted(folder.iterdir()), options(tiny_bundle), tmp_path / "work").start().wait(timeout=120)
    assert job.error is None, job.error
    table = job.writeOutputs(tmp_path / "results.csv", scene)
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert [row["status"] for row in rows] == ["ok", "ok", "error"]
    assert rows[0]["predicted"] in testing.CLASS_NAMES and rows[0]["map:heatmap"].endswith(".nrrd")
    assert table.GetNumberOfRows() == 3 and set(scene_snapshot(scene)) - set(before) == {table.GetID()}
    shutil.rmtree(tmp_path / "work")


@pytest.mark.parametrize(
    ("bundle", "maps"),
    [
        ("adrenal_hyperplasia_classifier_3d", {"heatmap"}),
        ("adrenal_shape_autoencoder_3d", {"reconstruction", "anomaly_map"}),
        ("adrenal_shape_gan_3d", {"realism_map", "image"}),
    ],
)
def test_real_runner_and_shipped_bundle_in_a_real_scene(scene, oblique_affine, bundle, maps):
    """Node -> NIfTI -> worker with the real runner (untrusted bundle) -> new nodes on the input's geometry."""
    python = real_worker_python()
    k, j, i = np.meshgrid(np.arange(24), np.arange(30), np.arange(28), indexing="ij")
    mask = (((i - 14) / 8.0) ** 2 + ((j - 15) / 11.0) ** 2 + ((k - 12) / 6.0) ** 2 <= 1).astype(np.float32)
    volume = add_volume(scene, mask, oblique_affine, name="mask")
    before = scene_snapshot(scene)
    opts = pipeline.InferenceOptions(bundlePath=str(REPO / "bundles" / bundle), device="cpu", python=str(python),
                                     extraPythonPath=WORKER_PYTHONPATH)  # fmt: skip
    job = pipeline.InferenceJob(volume, opts).start().wait(timeout=300)
    assert job.error is None, job.error
    outputs = job.loadOutputs(opacity=0.5, threshold=0.2, colorName="Inferno")
    assert set(job.result["maps"]) == maps and job.result["bundle"]["trusted"] is False
    job.cleanup()
    assert outputs.heatmapNode is not None  # the first declared heatmap is overlaid: heatmap, anomaly or realism map
    composite = scene.GetFirstNodeByClass("vtkMRMLSliceCompositeNode")
    assert composite.GetForegroundVolumeID() == outputs.heatmapNode.GetID()
    generated = outputs.otherNodes.pop("image", None)  # a GAN's generated volume keeps its own 32^3 grid
    if generated is not None:
        assert slicer.util.arrayFromVolume(generated).shape == (32, 32, 32)
    for node in [outputs.heatmapNode, *outputs.otherNodes.values()]:
        np.testing.assert_allclose(mrmlAdapter.ijkToRasArray(node), oblique_affine, atol=1e-5)
        assert slicer.util.arrayFromVolume(node).shape == mask.shape
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(volume), mask)
    after = scene_snapshot(scene)
    assert {key: after[key] for key in before} == before
    if "heatmap" in maps:  # the node names the method that made the map (a fallback may replace Grad-CAM's)
        assert job.result["heatmap_method"] in ("gradcam", "occlusion")
        assert outputs.heatmapNode.GetName() == f"mask {job.result['heatmap_method']} heatmap"
        table = outputs.tableNode
        assert [table.GetCellText(row, 0) for row in range(table.GetNumberOfRows())] == ["normal", "hyperplasia"]
