"""Segmentation nodes in and out of the worker (MRML, no Qt).

In: one segment of a segmentation node, chosen by name, becomes a 0/1 label map file on its reference geometry
(the mask bundles read a binary mask).

Out: ``result["segmentations"]`` (the shared contract: ``{"<output>": {"path", "kind": "labels" | "multilabel",
"labels": [{"value", "name", "color": [r, g, b] 0-255, "voxels", "volume_mm3", "probability_map"}]}}``) becomes one
new segmentation node per output, with one named, coloured segment per listed label (empty labels stay as empty
segments so the list matches the bundle's).
"""

from __future__ import annotations

import numpy as np
import slicer
import slicer.util
import vtk

from ..volumeFiles import geometry, miniNifti
from . import mrmlAdapter

# Used when a label has no colour (contract: "without colours a fixed palette is used").
PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255)]  # fmt: skip


class SegmentationResultError(ValueError):
    """A ``segmentations`` entry that does not follow the contract (names the output and the problem)."""


def segmentNames(segmentationNode) -> list[str]:
    if segmentationNode is None:
        return []
    segmentation = segmentationNode.GetSegmentation()
    return [segmentation.GetNthSegment(index).GetName() for index in range(segmentation.GetNumberOfSegments())]


def exportSegment(segmentationNode, segmentName: str, referenceVolume=None):
    """One segment (by name) as a new 0/1 ``uint8`` label map node on ``referenceVolume``'s whole grid if given.

    The node is added to the scene (the export needs it there); the caller removes it or keeps it as the grid
    of the results. A parent transform of the segmentation is hardened into it, so the worker sees the mask where
    Slicer shows it.
    """
    segmentation = segmentationNode.GetSegmentation()
    segmentId = segmentation.GetSegmentIdBySegmentName(segmentName or "")
    if not segmentId:
        names = ", ".join(segmentNames(segmentationNode)) or "none"
        raise ValueError(f"{segmentationNode.GetName()} has no segment named {segmentName!r} (segments: {names})")
    scene = segmentationNode.GetScene()
    labelmapNode = scene.AddNewNodeByClass(
        "vtkMRMLLabelMapVolumeNode", scene.GenerateUniqueName(f"{segmentationNode.GetName()} {segmentName} mask")
    )
    ids = vtk.vtkStringArray()
    ids.InsertNextValue(segmentId)
    logic = slicer.vtkSlicerSegmentationsModuleLogic
    # The whole reference grid (the volume's, else the segmentation's own), never the segment's bounding box.
    geometry = segmentation.GetConversionParameter(
        slicer.vtkSegmentationConverter.GetReferenceImageGeometryParameterName()
    )
    extent = (
        slicer.vtkSegmentation.EXTENT_REFERENCE_GEOMETRY
        if referenceVolume is not None or geometry
        else slicer.vtkSegmentation.EXTENT_UNION_OF_SEGMENTS_PADDED
    )
    if not logic.ExportSegmentsToLabelmapNode(segmentationNode, ids, labelmapNode, referenceVolume, extent):
        scene.RemoveNode(labelmapNode)
        raise RuntimeError(f"Could not export segment {segmentName!r} of {segmentationNode.GetName()}")
    slicer.util.updateVolumeFromArray(labelmapNode, (slicer.util.arrayFromVolume(labelmapNode) > 0).astype(np.uint8))
    if segmentationNode.GetTransformNodeID():
        labelmapNode.SetAndObserveTransformNodeID(segmentationNode.GetTransformNodeID())
        labelmapNode.HardenTransform()
    return labelmapNode


def loadSegmentationOutputs(result: dict, referenceNode, baseName: str) -> dict:
    """Every entry of ``result["segmentations"]`` as a new segmentation node (output name -> node)."""
    nodes = {}
    for outputName, output in (result.get("segmentations") or {}).items():
        nodes[outputName] = loadSegmentationOutput(outputName, output, referenceNode, f"{baseName} {outputName}")
    return nodes


def loadSegmentationOutput(outputName: str, output: dict, referenceNode, name: str):
    kind, labels = output.get("kind"), checkedLabels(outputName, output)
    if kind == "labels":
        masks = _labelMasks(output["path"], labels, referenceNode)
    elif kind == "multilabel":
        masks = _channelMasks(outputName, output["path"], labels, referenceNode)
    else:
        raise SegmentationResultError(
            f"segmentation {outputName!r}: kind must be 'labels' or 'multilabel', got {kind!r}"
        )
    scene = referenceNode.GetScene()
    segmentationNode = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", scene.GenerateUniqueName(name))
    segmentationNode.CreateDefaultDisplayNodes()
    segmentationNode.SetReferenceImageGeometryParameterFromVolumeNode(referenceNode)
    try:
        for label, mask in zip(labels, masks):
            _addSegment(segmentationNode, referenceNode, label, mask)
    except Exception:
        scene.RemoveNode(segmentationNode)
        raise
    if referenceNode.GetTransformNodeID():
        segmentationNode.SetAndObserveTransformNodeID(referenceNode.GetTransformNodeID())
    return segmentationNode


def checkedLabels(outputName: str, output: dict) -> list[dict]:
    if not isinstance(output, dict) or not output.get("path"):
        raise SegmentationResultError(f"segmentation {outputName!r} has no 'path'")
    labels = output.get("labels")
    if not isinstance(labels, list) or not all(isinstance(label, dict) and "value" in label for label in labels):
        raise SegmentationResultError(f"segmentation {outputName!r}: 'labels' must be a list of objects with 'value'")
    return labels


def labelColor(label: dict, index: int) -> tuple[float, float, float]:
    """The label's ``[r, g, b]`` (0-255) as 0-1 floats, or the palette's colour for its position."""
    color = label.get("color")
    if not (isinstance(color, (list, tuple)) and len(color) == 3):
        color = PALETTE[index % len(PALETTE)]
    return tuple(min(1.0, max(0.0, float(channel) / 255.0)) for channel in color)


def _labelMasks(path: str, labels: list[dict], referenceNode) -> list[np.ndarray]:
    """``(K, J, I)`` boolean masks of each label value of a label map file (read on the reference's grid)."""
    scene = referenceNode.GetScene()
    volumeNode = mrmlAdapter.loadVolumeFile(path, "segmentation import", referenceNode, scene=scene)
    try:
        _requireReferenceGrid(path, volumeNode, referenceNode)
        array = slicer.util.arrayFromVolume(volumeNode)
        return [array == int(label["value"]) for label in labels]
    finally:
        scene.RemoveNode(volumeNode)


def _channelMasks(outputName: str, path: str, labels: list[dict], referenceNode) -> list[np.ndarray]:
    """``(K, J, I)`` masks of each channel of a 4D ``(I, J, K, C)`` 0/1 NIfTI on the reference's grid."""
    array, affine = miniNifti.readNifti(path)
    if array.ndim != 4:
        raise SegmentationResultError(f"segmentation {outputName!r}: {path} must be 4D (I, J, K, C), got {array.shape}")
    referenceShape = slicer.util.arrayFromVolume(referenceNode).shape[::-1]
    referenceMatrix = mrmlAdapter.ijkToRasArray(referenceNode)
    masks = []
    for label in labels:
        channel = int(label["value"])
        if not 0 <= channel < array.shape[3]:
            raise SegmentationResultError(f"segmentation {outputName!r}: channel {channel} is not in {path}")
        aligned = geometry.alignToReference(array[..., channel], affine, referenceShape, referenceMatrix)
        if aligned is None:
            raise SegmentationResultError(f"segmentation {outputName!r}: {path} is not on the input volume's grid")
        masks.append(np.transpose(aligned, (2, 1, 0)) > 0)
    return masks


def _requireReferenceGrid(path: str, volumeNode, referenceNode) -> None:
    same = slicer.util.arrayFromVolume(volumeNode).shape == slicer.util.arrayFromVolume(referenceNode).shape
    if not same or not np.allclose(mrmlAdapter.ijkToRasArray(volumeNode), mrmlAdapter.ijkToRasArray(referenceNode)):
        raise SegmentationResultError(f"the label map {path} is not on the input volume's grid")


def _addSegment(segmentationNode, referenceNode, label: dict, maskKji: np.ndarray) -> None:
    index = segmentationNode.GetSegmentation().GetNumberOfSegments()
    name = str(label.get("name") or f"label {label['value']}")
    color = labelColor(label, index)
    segmentId = segmentationNode.GetSegmentation().AddEmptySegment("", name, color)
    if maskKji.any():
        setSegmentMask(segmentationNode, segmentId, maskKji, referenceNode)


def setSegmentMask(segmentationNode, segmentId: str, maskKji: np.ndarray, referenceNode) -> None:
    """Set a segment from a ``(K, J, I)`` mask on ``referenceNode``'s grid.

    Like ``slicer.util.updateSegmentBinaryLabelmapFromArray``, through the segmentations logic's static import
    (that helper needs ``slicer.modules``, which exists only in a running Slicer).
    """
    scene = segmentationNode.GetScene()
    labelmapNode = slicer.vtkMRMLLabelMapVolumeNode()
    scene.AddNode(labelmapNode)  # temporary
    try:
        slicer.util.updateVolumeFromArray(labelmapNode, (np.asarray(maskKji) > 0).astype(np.uint8))
        matrix = vtk.vtkMatrix4x4()
        referenceNode.GetIJKToRASMatrix(matrix)
        labelmapNode.SetIJKToRASMatrix(matrix)
        ids = vtk.vtkStringArray()
        ids.InsertNextValue(segmentId)
        logic = slicer.vtkSlicerSegmentationsModuleLogic
        if not logic.ImportLabelmapToSegmentationNode(labelmapNode, segmentationNode, ids):
            raise RuntimeError(f"Could not set segment {segmentId} of {segmentationNode.GetName()}")
    finally:
        scene.RemoveNode(labelmapNode)
