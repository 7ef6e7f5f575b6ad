"""mrmlAdapter against a real vtkMRMLScene (slicer-core): files, geometry, overlay, table, segmentation."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from .conftest import require_slicer_core

slicer = require_slicer_core()
nrrd = pytest.importorskip("nrrd", reason="pynrrd is part of requirements/slicer-core.txt")

from MonaiBundleExplorerLib.scene import mrmlAdapter  # noqa: E402
from MonaiBundleExplorerLib.volumeFiles import geometry  # noqa: E402

from .conftest import add_volume, scene_snapshot  # noqa: E402


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd"])
def test_volume_node_to_file_keeps_array_and_affine(scene, input_volume, tmp_path, suffix):
    before = scene_snapshot(scene)
    path = mrmlAdapter.writeVolumeNode(input_volume, str(tmp_path / f"v{suffix}"))
    expected_array, expected_affine = geometry.niftiFromSlicer(
        slicer.util.arrayFromVolume(input_volume), mrmlAdapter.ijkToRasArray(input_volume)
    )
    if suffix == ".nrrd":
        data, header = nrrd.read(path)
        assert header["space"] == "left-posterior-superior"
        affine = np.eye(4)
        affine[:3, :3], affine[:3, 3] = header["space directions"].T, header["space origin"]
        affine = geometry.lpsFromRas(affine)
        np.testing.assert_allclose(affine, expected_affine, atol=1e-9)
    else:
        image = nib.load(path)
        data, affine = np.asarray(image.dataobj), image.affine
        np.testing.assert_allclose(affine, expected_affine, atol=1e-5)  # NIfTI holds float32 geometry
    np.testing.assert_array_equal(data, expected_array)
    assert scene_snapshot(scene) == before and input_volume.GetStorageNode() is None


@pytest.mark.parametrize("flipped", [False, True], ids=["same-order", "reader-flips-axes"])
def test_result_file_becomes_a_new_node_on_the_input_grid(scene, input_volume, tmp_path, flipped):
    array_ijk, affine = geometry.niftiFromSlicer(
        slicer.util.arrayFromVolume(input_volume), mrmlAdapter.ijkToRasArray(input_volume)
    )
    heat = (array_ijk - array_ijk.min()) / np.ptp(array_ijk)
    if flipped:  # same voxels, stored with the first axis reversed (as a right-handed writer might)
        flip = np.eye(4)
        flip[0, 0], flip[0, 3] = -1, heat.shape[0] - 1
        nib.save(nib.Nifti1Image(heat[::-1].astype(np.float32), affine @ flip), tmp_path / "heat.nii.gz")
    else:
        nib.save(nib.Nifti1Image(heat.astype(np.float32), affine), tmp_path / "heat.nii.gz")
    input_before = slicer.util.arrayFromVolume(input_volume).copy()
    node = mrmlAdapter.loadVolumeFile(str(tmp_path / "heat.nii.gz"), "input heatmap", input_volume)
    assert node.GetID() != input_volume.GetID() and node.GetScene() is scene
    np.testing.assert_array_equal(mrmlAdapter.ijkToRasArray(node), mrmlAdapter.ijkToRasArray(input_volume))
    np.testing.assert_allclose(slicer.util.arrayFromVolume(node), heat.transpose(2, 1, 0).astype(np.float32))
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(input_volume), input_before)


def test_overlay_settings(scene, input_volume):
    heatmap = add_volume(
        scene,
        np.random.default_rng(0).random((6, 7, 8)).astype(np.float32),
        mrmlAdapter.ijkToRasArray(input_volume),
        "heat",
    )
    display = mrmlAdapter.showOverlay(input_volume, heatmap, opacity=0.4, threshold=0.3, colorName="Inferno")
    composites = [scene.GetNthNodeByClass(i, "vtkMRMLSliceCompositeNode") for i in range(3)]
    assert [c.GetForegroundVolumeID() for c in composites] == [heatmap.GetID()] * 3
    assert [c.GetBackgroundVolumeID() for c in composites] == [input_volume.GetID()] * 3
    assert all(c.GetForegroundOpacity() == pytest.approx(0.4) for c in composites)
    assert not display.GetAutoWindowLevel()
    assert (display.GetWindowLevelMin(), display.GetWindowLevelMax()) == pytest.approx((0.0, 1.0))
    assert display.GetApplyThreshold() and display.GetLowerThreshold() == pytest.approx(0.3)
    inferno = scene.GetFirstNode("Inferno", "vtkMRMLColorNode", False, False)
    expected = inferno or scene.GetFirstNode("PET-Heat", "vtkMRMLColorNode", False, False)  # slicer-core has no Inferno
    assert display.GetColorNodeID() == expected.GetID()
    mrmlAdapter.updateHeatmapDisplay(heatmap, 0.6, "Iron")
    assert display.GetLowerThreshold() == pytest.approx(0.6)
    assert display.GetColorNodeID() == scene.GetFirstNode("Iron", "vtkMRMLColorNode", None, True).GetID()
    assert mrmlAdapter.colorNodeId(scene, "NoSuchTable") == scene.GetFirstNode("Grey", "vtkMRMLColorNode").GetID()


def test_colour_lookup_is_an_exact_match(scene):
    """A name that only starts like a table ("Ir" of "Iron") is not that table: the Grey fallback is used."""
    grey = scene.GetFirstNode("Grey", "vtkMRMLColorNode", None, True).GetID()
    assert scene.GetFirstNode("Ir", "vtkMRMLColorNode", None, False) is not None  # a partial match exists
    assert mrmlAdapter.colorNodeId(scene, "Ir") == grey


def test_opacity_changes_only_the_views_showing_the_heatmap(scene, input_volume):
    matrix = mrmlAdapter.ijkToRasArray(input_volume)
    heatmap = add_volume(scene, np.zeros((6, 7, 8), np.float32), matrix, "heat")
    other = add_volume(scene, np.zeros((6, 7, 8), np.float32), matrix, "other")
    mrmlAdapter.showOverlay(input_volume, heatmap, opacity=0.4, threshold=0.3, colorName="Iron")
    composites = [scene.GetNthNodeByClass(i, "vtkMRMLSliceCompositeNode") for i in range(3)]
    composites[2].SetForegroundVolumeID(other.GetID())
    composites[2].SetForegroundOpacity(0.7)
    assert mrmlAdapter.setForegroundOpacity(scene, 0.9, heatmap) == 2
    assert [c.GetForegroundOpacity() for c in composites] == pytest.approx([0.9, 0.9, 0.7])
    assert mrmlAdapter.setForegroundOpacity(scene, 0.9, heatmap) == 0  # unchanged: nothing touched


def test_result_follows_the_inputs_transform(scene, input_volume):
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode")
    input_volume.SetAndObserveTransformNodeID(transform.GetID())
    heatmap = add_volume(scene, np.zeros((6, 7, 8), np.float32), mrmlAdapter.ijkToRasArray(input_volume), "heat")
    mrmlAdapter.observeSameTransform(heatmap, input_volume)
    assert heatmap.GetTransformNodeID() == transform.GetID()


def test_color_legend(scene, input_volume):
    legend = mrmlAdapter.addColorLegend(input_volume)
    assert legend is not None and legend.IsA("vtkMRMLColorLegendDisplayNode")


def test_probability_table(scene):
    table = mrmlAdapter.fillProbabilityTable([("normal", 0.25), ("nodule", 0.75)], scene=scene)
    assert table.GetNumberOfRows() == 2 and table.GetColumnName(0) == "Class"
    assert table.GetCellText(1, 0) == "nodule" and float(table.GetCellText(1, 1)) == pytest.approx(0.75)
    mrmlAdapter.fillProbabilityTable([("only", 1.0)], tableNode=table)
    assert table.GetNumberOfRows() == 1


def test_heatmap_to_segmentation(scene, input_volume):
    values = np.random.default_rng(1).random((6, 7, 8)).astype(np.float32)
    heatmap = add_volume(scene, values, mrmlAdapter.ijkToRasArray(input_volume), "heat")
    labelmaps_before = scene.GetNumberOfNodesByClass("vtkMRMLLabelMapVolumeNode")
    segmentation = mrmlAdapter.heatmapToSegmentation(heatmap, 0.7)
    assert segmentation.GetSegmentation().GetNumberOfSegments() == 1
    assert scene.GetNumberOfNodesByClass("vtkMRMLLabelMapVolumeNode") == labelmaps_before  # temporary one removed
    exported = slicer.vtkMRMLLabelMapVolumeNode()
    scene.AddNode(exported)
    assert slicer.vtkSlicerSegmentationsModuleLogic.ExportAllSegmentsToLabelmapNode(
        segmentation, exported, 1
    )  # reference extent
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(exported) > 0, values >= 0.7)
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(heatmap), values)


def test_parameter_node_storage(scene, input_volume):
    # What the wrapper serialises to: string parameters and node references on a vtkMRMLScriptedModuleNode.
    node = scene.AddNewNodeByClass("vtkMRMLScriptedModuleNode")
    node.SetParameter("opacity", "0.5")
    node.SetNodeReferenceID("inputVolume", input_volume.GetID())
    assert node.GetParameter("opacity") == "0.5" and node.GetNodeReference("inputVolume") is input_volume


def test_parameter_node_wrapper():
    wrapper = pytest.importorskip(
        "slicer.parameterNodeWrapper",
        reason="slicer-core ships no slicer.parameterNodeWrapper (it needs Slicer's Qt layer)",
    )
    assert hasattr(wrapper, "parameterNodeWrapper")
