"""Segmentations in a real scene: result.json "segmentations" (the shared contract) in, a segment as input out.

The result files are real NIfTI written by nibabel on an oblique, left-handed grid, as the runner writes them.
"""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pytest

from .conftest import require_slicer_core

slicer = require_slicer_core()

from MonaiBundleExplorerLib import core, panel, pipeline, testing  # noqa: E402
from MonaiBundleExplorerLib.scene import dicomProvenance, mrmlAdapter, segmentations  # noqa: E402
from MonaiBundleExplorerLib.volumeFiles import geometry  # noqa: E402

from .conftest import WORKER_PYTHONPATH, scene_snapshot  # noqa: E402


def nifti_grid(volume):
    """Shape ``(I, J, K)`` and affine of the input volume, as the runner sees it."""
    shape = slicer.util.arrayFromVolume(volume).shape[::-1]
    return shape, mrmlAdapter.ijkToRasArray(volume)


def segment_mask(segmentation_node, name, reference):
    labelmap = segmentations.exportSegment(segmentation_node, name, reference)
    mask = slicer.util.arrayFromVolume(labelmap).astype(bool)
    reference.GetScene().RemoveNode(labelmap)
    return mask


def test_label_map_becomes_named_coloured_segments(scene, input_volume, tmp_path):
    shape, affine = nifti_grid(input_volume)
    labels = np.zeros(shape, np.uint8)
    labels[1:4, 2:5, 1:3] = 1
    labels[5:8, 0:3, 3:6] = 3
    path = tmp_path / "pred.nii.gz"
    nib.save(nib.Nifti1Image(labels, affine), path)
    output = {
        "path": str(path),
        "kind": "labels",
        "labels": [
            {"value": 1, "name": "anterior", "color": [255, 0, 0], "voxels": 18, "volume_mm3": 45.0},
            {"value": 3, "name": "posterior", "voxels": 27, "volume_mm3": 67.5, "probability_map": None},
            {"value": 5, "name": "absent", "color": [0, 0, 255], "voxels": 0, "volume_mm3": 0.0},
        ],
    }
    before = scene_snapshot(scene)
    nodes = segmentations.loadSegmentationOutputs({"segmentations": {"pred": output}}, input_volume, "CT")
    node = nodes["pred"]
    assert node.GetName() == "CT pred" and segmentations.segmentNames(node) == ["anterior", "posterior", "absent"]
    segmentation = node.GetSegmentation()
    assert segmentation.GetNthSegment(0).GetColor() == pytest.approx((1.0, 0.0, 0.0))
    assert segmentation.GetNthSegment(1).GetColor() == pytest.approx(tuple(c / 255 for c in segmentations.PALETTE[1]))
    kji = np.transpose(labels, (2, 1, 0))
    np.testing.assert_array_equal(segment_mask(node, "anterior", input_volume), kji == 1)
    np.testing.assert_array_equal(segment_mask(node, "posterior", input_volume), kji == 3)
    added = {nodeId: kind for nodeId, kind in scene_snapshot(scene).items() if nodeId not in before}
    assert "vtkMRMLScalarVolumeNode" not in added.values()  # the temporary label volume is gone


def test_multilabel_channels_may_overlap(scene, input_volume, tmp_path):
    shape, affine = nifti_grid(input_volume)
    masks = np.zeros((*shape, 3), np.uint8)
    masks[1:7, 1:6, 1:5, 0] = 1  # whole tumour
    masks[2:5, 2:4, 2:4, 1] = 1  # tumour core, inside it
    masks[3, 3, 3, 2] = 1  # enhancing
    path = tmp_path / "brats.nii.gz"
    nib.save(nib.Nifti1Image(masks, affine), path)
    output = {"path": str(path), "kind": "multilabel", "labels": [
        {"value": 0, "name": "WT", "color": [0, 255, 0]}, {"value": 1, "name": "TC", "color": [255, 255, 0]},
        {"value": 2, "name": "ET", "color": [255, 0, 0]},
    ]}  # fmt: skip
    node = segmentations.loadSegmentationOutput("brats", output, input_volume, "CT brats")
    assert segmentations.segmentNames(node) == ["WT", "TC", "ET"]
    for channel, name in enumerate(["WT", "TC", "ET"]):
        expected = np.transpose(masks[..., channel], (2, 1, 0)).astype(bool)
        np.testing.assert_array_equal(segment_mask(node, name, input_volume), expected)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "probabilities"}, "kind must be 'labels' or 'multilabel'"),
        ({"labels": [{"name": "no value"}]}, "'labels' must be a list of objects with 'value'"),
        ({"path": ""}, "has no 'path'"),
        ({"kind": "multilabel", "labels": [{"value": 4}]}, "must be 4D"),
    ],
)
def test_contract_violations_are_named(scene, input_volume, tmp_path, change, message):
    shape, affine = nifti_grid(input_volume)
    nib.save(nib.Nifti1Image(np.zeros(shape, np.uint8), affine), tmp_path / "p.nii.gz")
    output = {"path": str(tmp_path / "p.nii.gz"), "kind": "labels", "labels": [{"value": 1}], **change}
    nodes = scene.GetNumberOfNodes()
    with pytest.raises(segmentations.SegmentationResultError, match=message):
        segmentations.loadSegmentationOutput("pred", output, input_volume, "x")
    assert scene.GetNumberOfNodes() == nodes


def test_a_label_map_on_another_grid_is_refused(scene, input_volume, tmp_path):
    shape, affine = nifti_grid(input_volume)
    nib.save(nib.Nifti1Image(np.ones(shape, np.uint8), affine @ np.diag([2.0, 1.0, 1.0, 1.0])), tmp_path / "p.nii.gz")
    output = {"path": str(tmp_path / "p.nii.gz"), "kind": "labels", "labels": [{"value": 1, "name": "a"}]}
    with pytest.raises(segmentations.SegmentationResultError, match="not on the input volume's grid"):
        segmentations.loadSegmentationOutput("pred", output, input_volume, "x")


@pytest.mark.parametrize("geometry", [True, False], ids=["own-geometry", "no-geometry"])
def test_a_segment_without_reference_volume_is_the_results_grid(scene, tmp_path, geometry):
    """A segmentation with no reference volume: the exported mask is kept (a new node) and the results sit on it.

    It covers the segmentation's own reference geometry when it has one (the volume it was drawn on was removed),
    else the segment with a margin.
    """
    labelmap = slicer.vtkMRMLLabelMapVolumeNode()
    scene.AddNode(labelmap)
    array = np.zeros((6, 7, 8), np.uint8)
    array[1:5, 2:6, 2:7] = 1
    slicer.util.updateVolumeFromArray(labelmap, array)
    labelmap.SetSpacing(1.0, 2.0, 0.5)
    segmentation_node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Seg")
    assert slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(labelmap, segmentation_node)
    segmentation_node.GetSegmentation().GetNthSegment(0).SetName("organ")
    if geometry:
        segmentation_node.SetReferenceImageGeometryParameterFromVolumeNode(labelmap)
    scene.RemoveNode(labelmap)
    assert segmentation_node.GetNodeReference(segmentation_node.GetReferenceImageGeometryReferenceRole()) is None
    bundle = testing.writeTinyBundle(tmp_path / "mask_bundle", maskInput=True)
    options = pipeline.InferenceOptions(
        bundlePath=str(bundle), runner=testing.RUNNER, python=sys.executable, extraPythonPath=WORKER_PYTHONPATH
    )
    job = pipeline.InferenceJob(segmentation_node, options, segmentName="organ").start().wait(timeout=120)
    assert job.error is None, job.error
    outputs = job.loadOutputs()
    job.cleanup()
    reference = job.referenceNode
    assert reference.IsA("vtkMRMLLabelMapVolumeNode") and reference.GetName() == "Seg organ mask"
    mask = slicer.util.arrayFromVolume(reference)
    if geometry:
        np.testing.assert_array_equal(mask, array)  # the whole grid, not the segment's bounding box
    else:
        assert mask.sum() == array.sum() and mask.shape == (6, 6, 7)  # the segment (4, 4, 5) with a margin
    assert segmentations.segmentNames(outputs.segmentationNodes["segmentation"]) == ["low", "high"]
    table = outputs.segmentTableNode
    labels = job.result["segmentations"]["segmentation"]["labels"]
    assert [table.GetCellText(row, 1) for row in range(table.GetNumberOfRows())] == ["low", "high"]
    assert [int(table.GetCellText(row, 2)) for row in range(2)] == [label["voxels"] for label in labels]
    assert float(table.GetCellText(0, 3)) == pytest.approx(labels[0]["volume_mm3"])
    assert labels[0]["voxels"] > 0 and labels[0]["volume_mm3"] == pytest.approx(labels[0]["voxels"] * 1.0)
    np.testing.assert_allclose(mrmlAdapter.ijkToRasArray(outputs.heatmapNode), mrmlAdapter.ijkToRasArray(reference))
    wrong = pipeline.InferenceJob(segmentation_node, options, segmentName="liver")
    with pytest.raises(ValueError, match=r"no segment named 'liver'.*segments: organ"):
        wrong.start()
    wrong.cleanup()


class DicomDatabase:
    """``ctkDICOMDatabase.fileForInstance`` (SOP Instance UID -> file, "" when unknown), for a DICOM-loaded node."""

    def __init__(self, files: dict):
        self.files, self.isOpen = files, True

    def fileForInstance(self, uid):  # noqa: N802 (ctkDICOMDatabase's name)
        return self.files.get(uid, "")


def dicom_params(volume, bundle):
    return SimpleNamespace(inputVolume=volume, inputSegmentation=None, inputSegmentName="", bundlePath=bundle,
                           device="cpu", heatmapMethod="gradcam", trustBundle=False, saveDicom=True,
                           opacity=0.5, threshold=0.2, colorMap="Inferno", outputHeatmap=None, outputTable=None,
                           outputSegmentation=None)  # fmt: skip


def dicom_logic(database=None):
    logic = core.BundleExplorerCore()
    logic.runOverrides = {"runner": testing.RUNNER, "python": sys.executable, "extraPythonPath": WORKER_PYTHONPATH}
    logic.dicomDatabase = database
    return logic


def test_save_as_dicom_sends_the_nodes_dicom_files_as_the_source(scene, input_volume, tmp_path):
    """A DICOM-loaded node (``DICOM.instanceUIDs``): its files become ``dicom_source``; the sandboxed worker runs."""
    files = {f"1.2.826.0.1.3680043.8.498.{index}": tmp_path / "series" / f"IM{index}.dcm" for index in (1, 2, 3)}
    for path in files.values():
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"\0" * 128 + b"DICM")  # the worker's sandbox must let it read them
    input_volume.SetAttribute("DICOM.instanceUIDs", " ".join(files))
    logic = dicom_logic(DicomDatabase({uid: str(path) for uid, path in files.items()}))
    job = logic.startInference(dicom_params(input_volume, testing.writeTinyBundle(tmp_path / "bundle")))
    job.wait(timeout=120)
    request = json.loads((job.workDir / "request.json").read_text())
    assert request["dicom_out"] == str(job.workDir / "dicom") and request["trusted"] is False
    assert request["dicom_source"] == [str(path) for path in files.values()]  # in the node's instance order
    assert job.error is None, job.error
    outputs = logic.loadResults(job, dicom_params(input_volume, None))
    assert outputs.dicomNote == "" and outputs.dicomImported is False  # the stand-in writes no DICOM; no module
    job.cleanup()


def test_save_as_dicom_without_a_dicom_volume_says_why_and_asks_for_none(scene, input_volume, tmp_path):
    bundle = testing.writeTinyBundle(tmp_path / "bundle")
    cases = {
        "not from DICOM": (None, "DICOM results need a volume loaded from Slicer's DICOM database"),
        "database gone": ("1.2.3.4", "DICOM results were not written: Slicer's DICOM database is not open"),
        "file gone": ("1.2.3.4 1.2.3.5", "1 of the 2 DICOM files of input are no longer in the DICOM database"),
    }
    for name, (uids, message) in cases.items():
        input_volume.SetAttribute("DICOM.instanceUIDs", uids)  # None removes the attribute
        known = {"1.2.3.4": str(tmp_path / "bundle" / "LICENSE")} if name == "file gone" else None
        logic = dicom_logic(DicomDatabase(known) if known else None)
        job = logic.startInference(dicom_params(input_volume, bundle)).wait(timeout=120)
        request = json.loads((job.workDir / "request.json").read_text())
        assert "dicom_out" not in request and "dicom_source" not in request, name
        assert job.error is None, job.error
        job.result["warnings"] = ["the gradcam heatmap is empty: no region adds evidence"]  # as the runner says it
        outputs = logic.loadResults(job, dicom_params(input_volume, None))
        assert message in outputs.dicomNote, (name, outputs.dicomNote)
        status = panel.PanelController(None, logic, None).doneMessage(outputs, job)
        assert status.startswith("Done.") and message in status and "sandbox: " in status, status
        assert "note: the gradcam heatmap is empty: no region adds evidence." in status, status
        job.cleanup()
    assert "the segmentation has no reference volume" in dicomProvenance.dicomSourceOf(None).reason


def test_alignment_helper_matches_the_oblique_grid(input_volume):
    shape, affine = nifti_grid(input_volume)
    data = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    aligned = geometry.alignToReference(data, affine.astype(np.float32).astype(float), shape, affine)
    np.testing.assert_array_equal(aligned, data)
