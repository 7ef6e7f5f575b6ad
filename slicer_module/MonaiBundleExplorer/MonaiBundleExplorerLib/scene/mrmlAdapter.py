"""MRML side of the module: volume nodes to files and back, overlay display, result table, segmentation.

Needs Slicer's MRML libraries (inside Slicer, or the ``slicer-core`` wheel in CI) but no Qt. Results always become
NEW nodes: the input node and the rest of the scene are never modified or cleared.
"""

from __future__ import annotations

import numpy as np
import slicer
import slicer.util
import vtk

from ..volumeFiles import geometry

# Display names offered in the GUI -> colour node names to try, best first. File-based tables (Inferno, Magma)
# exist only in a full Slicer; the procedural PET-Heat and built-in Iron tables exist everywhere.
COLOR_FALLBACKS = {
    "Inferno": ["Inferno", "PET-Heat", "Iron"],
    "Magma": ["Magma", "PET-Heat", "Iron"],
    "Hot": ["PET-Heat", "Iron", "Warm1"],
    "Iron": ["Iron", "PET-Heat"],
    "Rainbow": ["ColdToHotRainbow", "Rainbow"],
}


def ijkToRasArray(volumeNode) -> np.ndarray:
    matrix = vtk.vtkMatrix4x4()
    volumeNode.GetIJKToRASMatrix(matrix)
    return slicer.util.arrayFromVTKMatrix(matrix)


def nodeIds(scene) -> set:
    return {scene.GetNthNode(index).GetID() for index in range(scene.GetNumberOfNodes())}


def removeNodesAddedSince(scene, before: set) -> None:
    """Remove the nodes a helper step added (the subject hierarchy, a scene singleton in Slicer, stays)."""
    for nodeId in nodeIds(scene) - before:
        node = scene.GetNodeByID(nodeId)
        if node is not None and not node.IsA("vtkMRMLSubjectHierarchyNode"):
            scene.RemoveNode(node)


def writeVolumeNode(volumeNode, path: str) -> str:
    """Write a volume node to NIfTI/NRRD (by extension) without touching the node or the scene."""
    storageNode = slicer.vtkMRMLVolumeArchetypeStorageNode()  # not added to the scene on purpose
    storageNode.SetFileName(str(path))
    storageNode.SetUseCompression(str(path).endswith((".gz", ".nrrd")))
    if not storageNode.WriteData(volumeNode):
        raise OSError(f"Could not write {volumeNode.GetName()} to {path}")
    return str(path)


def loadVolumeFile(path: str, name: str, referenceNode=None, scene=None):
    """Load a result file as a new scalar volume node; snapped to ``referenceNode``'s exact grid when they match."""
    scene = scene or (referenceNode.GetScene() if referenceNode else slicer.mrmlScene)
    storageNode = slicer.vtkMRMLVolumeArchetypeStorageNode()
    storageNode.ForceRightHandedIJKCoordinateSystemOff()  # keep the file's voxel order
    storageNode.SetFileName(str(path))
    volumeNode = slicer.vtkMRMLScalarVolumeNode()
    volumeNode.SetName(scene.GenerateUniqueName(name))
    if not storageNode.ReadData(volumeNode):
        raise OSError(f"Could not read the result volume {path}")
    scene.AddNode(volumeNode)
    if referenceNode is not None:
        _snapToReference(volumeNode, referenceNode)
    return volumeNode


def _snapToReference(volumeNode, referenceNode) -> None:
    """Copy the reference's exact matrix (files store float32 geometry) when both are the same voxel lattice."""
    arrayIjk, affine = geometry.niftiFromSlicer(slicer.util.arrayFromVolume(volumeNode), ijkToRasArray(volumeNode))
    refShape = slicer.util.arrayFromVolume(referenceNode).shape[::-1]
    aligned = geometry.alignToReference(arrayIjk, affine, refShape, ijkToRasArray(referenceNode))
    if aligned is None:
        return
    slicer.util.updateVolumeFromArray(volumeNode, np.transpose(aligned, (2, 1, 0)))
    matrix = vtk.vtkMatrix4x4()
    referenceNode.GetIJKToRASMatrix(matrix)
    volumeNode.SetIJKToRASMatrix(matrix)


def colorNodeId(scene, colorName: str) -> str:
    """ID of the first available colour node for ``colorName`` (falls back to procedural tables, then Grey)."""
    for candidate in [*COLOR_FALLBACKS.get(colorName, [colorName]), "Grey"]:
        node = scene.GetFirstNode(candidate, "vtkMRMLColorNode", None, True)  # exact name: "Iron" is not "IronX"
        if node is not None:
            return node.GetID()
    return ""


def showOverlay(inputNode, heatmapNode, opacity: float, threshold: float, colorName: str):
    """Input as background, heatmap as foreground in every slice view, with colours for values in [0, 1]."""
    updateHeatmapDisplay(heatmapNode, threshold, colorName)
    slicer.util.setSliceViewerLayers(background=inputNode, foreground=heatmapNode, foregroundOpacity=opacity)
    return heatmapNode.GetDisplayNode()


def updateHeatmapDisplay(heatmapNode, threshold: float, colorName: str):
    if heatmapNode.GetDisplayNode() is None:
        heatmapNode.CreateDefaultDisplayNodes()
    display = heatmapNode.GetDisplayNode()
    wasModifying = display.StartModify()
    display.SetAutoWindowLevel(False)
    display.SetWindowLevelMinMax(0.0, 1.0)
    display.SetAutoThreshold(False)
    display.SetThreshold(float(threshold), max(1.0, float(threshold)))
    display.SetApplyThreshold(True)
    colorId = colorNodeId(heatmapNode.GetScene(), colorName)
    if colorId:
        display.SetAndObserveColorNodeID(colorId)
    display.EndModify(wasModifying)
    return display


def setForegroundOpacity(scene, opacity: float, foregroundNode) -> int:
    """Set the foreground opacity of the views that show ``foregroundNode`` as foreground (and no others).

    Returns how many views changed; a scene without slice views (``--no-main-window``) has none.
    """
    changed = 0
    for index in range(scene.GetNumberOfNodesByClass("vtkMRMLSliceCompositeNode")):
        composite = scene.GetNthNodeByClass(index, "vtkMRMLSliceCompositeNode")
        showsNode = foregroundNode is not None and composite.GetForegroundVolumeID() == foregroundNode.GetID()
        if showsNode and composite.GetForegroundOpacity() != float(opacity):
            composite.SetForegroundOpacity(float(opacity))
            changed += 1
    return changed


def observeSameTransform(node, referenceNode) -> None:
    """Place a result under the input's parent transform, so it lies where the input is shown."""
    transformId = referenceNode.GetTransformNodeID() if referenceNode is not None else None
    if transformId:
        node.SetAndObserveTransformNodeID(transformId)


def addColorLegend(heatmapNode):
    """A colour legend in the views (Slicer 5.0+); ``None`` where the Colors logic is unavailable."""
    try:
        colorLogic = slicer.modules.colors.logic()
    except AttributeError:  # slicer-core: no module manager, but the logic class can stand alone
        colorLogic = slicer.vtkSlicerColorLogic()
        colorLogic.SetMRMLScene(heatmapNode.GetScene())
    if not hasattr(colorLogic, "AddDefaultColorLegendDisplayNode"):
        return None
    return colorLogic.AddDefaultColorLegendDisplayNode(heatmapNode)


def fillProbabilityTable(rows, tableNode=None, scene=None, name: str = "Class probabilities"):
    """A table node with ``Class`` and ``Probability`` columns (a new node unless one is given)."""
    scene = scene or slicer.mrmlScene
    if tableNode is None:
        tableNode = scene.AddNewNodeByClass("vtkMRMLTableNode", scene.GenerateUniqueName(name))
    table = tableNode.GetTable()
    table.Initialize()
    classes, probabilities = vtk.vtkStringArray(), vtk.vtkDoubleArray()
    classes.SetName("Class")
    probabilities.SetName("Probability")
    for className, probability in rows:
        classes.InsertNextValue(str(className))
        probabilities.InsertNextValue(float(probability))
    table.AddColumn(classes)
    table.AddColumn(probabilities)
    tableNode.Modified()
    return tableNode


def fillSegmentVolumeTable(rows, scene, name: str = "Segment volumes"):
    """A new table node: ``Output``, ``Segment``, ``Voxels``, ``Volume (mm3)`` (from result.json)."""
    tableNode = scene.AddNewNodeByClass("vtkMRMLTableNode", scene.GenerateUniqueName(name))
    table = tableNode.GetTable()
    columns = [vtk.vtkStringArray(), vtk.vtkStringArray(), vtk.vtkIntArray(), vtk.vtkDoubleArray()]
    for column, title in zip(columns, ("Output", "Segment", "Voxels", "Volume (mm3)")):
        column.SetName(title)
    for output, segment, voxels, volume in rows:
        columns[0].InsertNextValue(str(output))
        columns[1].InsertNextValue(str(segment))
        columns[2].InsertNextValue(int(voxels))
        columns[3].InsertNextValue(float(volume))
    for column in columns:
        table.AddColumn(column)
    tableNode.Modified()
    return tableNode


def fillTableFromRows(header, rows, tableNode=None, scene=None, name: str = "Batch results"):
    """A string table (the batch CSV) as a table node."""
    scene = scene or slicer.mrmlScene
    if tableNode is None:
        tableNode = scene.AddNewNodeByClass("vtkMRMLTableNode", scene.GenerateUniqueName(name))
    table = tableNode.GetTable()
    table.Initialize()
    for column in header:
        array = vtk.vtkStringArray()
        array.SetName(column)
        for row in rows:
            array.InsertNextValue(str(row.get(column, "")))
        table.AddColumn(array)
    tableNode.Modified()
    return tableNode


def heatmapToSegmentation(heatmapNode, threshold: float, name: str = "Heatmap"):
    """A new segmentation holding one segment: voxels with heatmap >= ``threshold``."""
    scene = heatmapNode.GetScene()
    mask = (slicer.util.arrayFromVolume(heatmapNode) >= float(threshold)).astype(np.uint8)
    labelmapNode = slicer.vtkMRMLLabelMapVolumeNode()
    scene.AddNode(labelmapNode)  # temporary; the import needs it in the scene
    try:
        slicer.util.updateVolumeFromArray(labelmapNode, mask)
        matrix = vtk.vtkMatrix4x4()
        heatmapNode.GetIJKToRASMatrix(matrix)
        labelmapNode.SetIJKToRASMatrix(matrix)
        segmentationNode = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", scene.GenerateUniqueName(name))
        segmentationNode.SetReferenceImageGeometryParameterFromVolumeNode(heatmapNode)
        if not slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(
            labelmapNode, segmentationNode
        ):
            scene.RemoveNode(segmentationNode)
            raise RuntimeError("Could not convert the heatmap to a segmentation")
        if segmentationNode.GetSegmentation().GetNumberOfSegments():
            segment = segmentationNode.GetSegmentation().GetNthSegment(0)
            segment.SetName(f"{heatmapNode.GetName()} >= {threshold:g}")
        return segmentationNode
    finally:
        scene.RemoveNode(labelmapNode)
