# Slicer runs module self-tests with unittest (ScriptedLoadableModuleTest), not pytest: keep its assert methods.
# Slicer 5.8 runs this file with Python 3.9: no 3.10+ syntax (tests/slicer_module/test_python39.py checks).
# ruff: noqa: PT009, PT027
import os
import pathlib
import shutil
import tempfile
from typing import Annotated

import qt
import slicer
import vtk
from MonaiBundleExplorerLib import core, locations, panel
from MonaiBundleExplorerLib.scene import mrmlAdapter
from MonaiBundleExplorerLib.workerProcess import workerSetup
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode, vtkMRMLTableNode
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

DEVICES = ["auto", "cpu", "cuda"]
HEATMAP_METHODS = ["gradcam", "gradcampp", "occlusion"]
COLOR_MAPS = list(mrmlAdapter.COLOR_FALLBACKS)


class MonaiBundleExplorer(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("MONAI Bundle Explorer")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Deep Learning")]
        self.parent.dependencies = []
        self.parent.contributors = ["monai-ext developers"]
        self.parent.helpText = _(
            "Run a MONAI bundle (offline) on a volume or a segment in a separate process, in a Python environment "
            "of its own, then see class probabilities in a table, heatmaps over the volume and segmentations. "
            "Bundles not marked trusted run with safe loading."
        )
        self.parent.acknowledgementText = _("Built on MONAI and 3D Slicer.")


@parameterNodeWrapper
class MonaiBundleExplorerParameterNode:
    """Unset ``pathlib.Path`` fields read as ``Path('.')``: test them with ``locations.isSetPath``, never truthiness.

    ``inputSegmentName`` and ``probabilitySegment`` are set by the panel controller (their combo boxes list names
    that only exist at run time), every other field is bound to its widget with ``SlicerParameterName``.
    """

    inputVolume: vtkMRMLScalarVolumeNode
    inputSegmentation: vtkMRMLSegmentationNode
    inputSegmentName: str = ""
    bundlePath: pathlib.Path
    trustBundle: bool = False
    device: Annotated[str, Choice(DEVICES)] = "auto"
    heatmapMethod: Annotated[str, Choice(HEATMAP_METHODS)] = "gradcam"
    colorMap: Annotated[str, Choice(COLOR_MAPS)] = "Inferno"
    opacity: Annotated[float, WithinRange(0.0, 1.0)] = 0.5
    threshold: Annotated[float, WithinRange(0.0, 1.0)] = 0.2
    saveDicom: bool = False
    outputHeatmap: vtkMRMLScalarVolumeNode
    outputTable: vtkMRMLTableNode
    outputSegmentation: vtkMRMLSegmentationNode
    probabilitySegment: str = ""
    batchFolder: pathlib.Path
    batchCsvPath: pathlib.Path


class MonaiBundleExplorerWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Setup and parameter-node wiring; what a click does is in ``panel.PanelController`` (shared with CI)."""

    def __init__(self, parent=None):
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self.controller = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/MonaiBundleExplorer.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = MonaiBundleExplorerLogic()
        self.timer = qt.QTimer()
        self.timer.setInterval(100)
        self.controller = panel.PanelController(self.ui, self.logic, self.timer, self.logic.prepareWorker)
        self.timer.connect("timeout()", self.controller.tick)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.saveSegmentationButton.connect("clicked(bool)", self.onSaveSegmentation)
        self.ui.batchRunButton.connect("clicked(bool)", self.onBatchButton)
        self.ui.bundleComboBox.connect("currentIndexChanged(int)", self.controller.onBundlePicked)
        self.ui.inputSegmentComboBox.connect("currentTextChanged(QString)", self.controller.onSegmentPicked)
        self.ui.probabilitySegmentComboBox.connect(
            "currentTextChanged(QString)", self.controller.onProbabilitySegmentPicked
        )
        self.setupSettings()
        self.ui.progressBar.setVisible(False)
        self.controller.fillBundleList()
        self.initializeParameterNode()

    def setupSettings(self):
        """Module settings (not scene data): the user's bundle folder and the worker Python."""
        settings = qt.QSettings()
        for lineEdit, key in (
            (self.ui.userBundleFolderPathLineEdit, locations.USER_BUNDLE_FOLDER),
            (self.ui.workerPythonPathLineEdit, locations.WORKER_PYTHON),
        ):
            lineEdit.currentPath = str(locations.readPathSetting(settings, key) or "")
            lineEdit.connect("currentPathChanged(QString)", lambda path, key=key: self.onSettingChanged(key, path))

    def onSettingChanged(self, key, path):
        locations.writePathSetting(qt.QSettings(), key, path)
        if key == locations.USER_BUNDLE_FOLDER:
            self.controller.fillBundleList()
        else:
            self.logic.workerPython = None  # checked again on the next Apply

    def cleanup(self):
        if self.controller is not None:
            self.controller.cleanup()
        self.removeObservers()

    def enter(self):
        self.initializeParameterNode()

    def exit(self):
        # Only the GUI is disconnected: a running job keeps its own parameter node and still loads its results.
        self.setParameterNode(None)

    def onSceneStartClose(self, caller, event):
        self.controller.onSceneStartClose()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event):
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self):
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            self._parameterNode.inputVolume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")

    def setParameterNode(self, parameterNode):
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.onParameterChanged)
        self._parameterNode = parameterNode
        self.controller.setParams(parameterNode)
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.onParameterChanged)
            self.onParameterChanged()

    def onParameterChanged(self, caller=None, event=None):
        self.controller.onParameterChanged()

    def onApplyButton(self):
        with slicer.util.tryWithErrorDisplay(_("Could not start the inference."), waitCursor=True):
            self.controller.onApply()

    def onBatchButton(self):
        with slicer.util.tryWithErrorDisplay(_("Could not start the batch."), waitCursor=True):
            self.controller.onBatch()

    def onSaveSegmentation(self):
        with slicer.util.tryWithErrorDisplay(_("Could not create the segmentation."), waitCursor=True):
            self.controller.onSaveSegmentation()


class MonaiBundleExplorerLogic(ScriptedLoadableModuleLogic, core.BundleExplorerCore):
    """GUI-free (``core.BundleExplorerCore``), plus Slicer's parameter node and the worker environment dialog."""

    def __init__(self):
        ScriptedLoadableModuleLogic.__init__(self)
        core.BundleExplorerCore.__init__(self, settings=qt.QSettings())

    def getParameterNode(self):
        return MonaiBundleExplorerParameterNode(super().getParameterNode())

    def prepareWorker(self):
        """Find or create the worker Python (dialogs; first Apply only). True when it passed the version check."""
        if self.workerPython is None:
            userData = qt.QStandardPaths.writableLocation(qt.QStandardPaths.AppLocalDataLocation)
            self.workerPython = workerSetup.ensureWorkerPython(self.settings, userData)
        return self.workerPython is not None


class MonaiBundleExplorerTest(ScriptedLoadableModuleTest):
    """The logic end to end on CPU: a small volume, a tiny bundle, the worker process, new output nodes.

    Passes with a main window and headless (``--no-main-window``: no slice views, so no overlay is checked there).
    """

    def setUp(self):
        self.workDir = pathlib.Path(tempfile.mkdtemp(prefix="MonaiBundleExplorerTest-"))
        self.createdNodeIds = []

    def tearDown(self):
        for nodeId in self.createdNodeIds:
            node = slicer.mrmlScene.GetNodeByID(nodeId)
            if node is not None:
                slicer.mrmlScene.RemoveNode(node)
        shutil.rmtree(self.workDir, ignore_errors=True)

    def runTest(self):
        tests = (
            self.test_inferenceCreatesNewNodes,
            self.test_segmentInputAndSegmentationOutput,
            self.test_failedRunLeavesSceneUnchanged,
            self.test_realBundleOnCpu,
        )
        for test in tests:
            self.setUp()
            try:
                test()
            finally:
                self.tearDown()

    def track(self, *nodes):
        self.createdNodeIds += [node.GetID() for node in nodes if node is not None]

    def makeVolume(self):
        import numpy as np
        from MonaiBundleExplorerLib import testing

        volume = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "MonaiBundleExplorerTestInput")
        self.track(volume)
        k, j, i = np.meshgrid(np.arange(12), np.arange(14), np.arange(16), indexing="ij")
        slicer.util.updateVolumeFromArray(volume, (i * 10.0 + j + 0.5 * k).astype(np.float32))
        volume.SetSpacing(1.5, 1.0, 2.0)
        volume.SetOrigin(-10.0, 20.0, 5.0)
        bundlePath = testing.writeTinyBundle(self.workDir / "tiny_bundle")
        return volume, bundlePath

    def newParams(self, logic, **fields):
        """The tiny bundle's runs are trusted: the test wrote it and its stand-in runner loads no bundle code, and
        PythonSlicer has no monai_ext to sandbox an untrusted run. ``test_realBundleOnCpu`` runs untrusted."""
        fields.setdefault("trustBundle", True)
        params = logic.getParameterNode()
        for name, value in fields.items():
            setattr(params, name, value)
        return params

    def test_inferenceCreatesNewNodes(self):
        import numpy as np
        from MonaiBundleExplorerLib import testing

        self.delayDisplay(_("Running the tiny bundle on CPU"))
        volume, bundlePath = self.makeVolume()
        before = slicer.util.arrayFromVolume(volume).copy()
        logic = MonaiBundleExplorerLogic()
        params = self.newParams(logic, inputVolume=volume, bundlePath=bundlePath, device="cpu")
        outputs = logic.process(params, timeout=120, runner=testing.RUNNER, inputFormat=".nrrd")
        self.track(outputs.heatmapNode, outputs.tableNode)
        heatmap = slicer.util.arrayFromVolume(outputs.heatmapNode)
        self.assertNotEqual(outputs.heatmapNode.GetID(), volume.GetID())
        self.assertEqual(heatmap.shape, before.shape)
        self.assertTrue(heatmap.min() >= 0.0 and heatmap.max() <= 1.0)
        np.testing.assert_allclose(mrmlAdapter.ijkToRasArray(outputs.heatmapNode), mrmlAdapter.ijkToRasArray(volume))
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(volume), before)
        self.assertEqual(outputs.tableNode.GetNumberOfRows(), len(testing.CLASS_NAMES))
        composite = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLSliceCompositeNode")
        if composite is not None:  # None with --no-main-window (no slice views)
            self.assertEqual(composite.GetForegroundVolumeID(), outputs.heatmapNode.GetID())
        segmentation = logic.saveHeatmapAsSegmentation(outputs.heatmapNode, 0.5)
        self.track(segmentation)
        self.assertEqual(segmentation.GetSegmentation().GetNumberOfSegments(), 1)
        self.delayDisplay(_("Test passed"))

    def test_segmentInputAndSegmentationOutput(self):
        """A segment (by name) as the input of a mask bundle; segmentation outputs become named, coloured segments."""
        from MonaiBundleExplorerLib import testing
        from MonaiBundleExplorerLib.scene import segmentations

        volume, _bundle = self.makeVolume()
        bundlePath = testing.writeTinyBundle(self.workDir / "mask_bundle", maskInput=True)
        mask = slicer.util.arrayFromVolume(volume) > 80
        segmentationNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "MonaiBundleExplorerTestSeg")
        self.track(segmentationNode)
        segmentationNode.SetReferenceImageGeometryParameterFromVolumeNode(volume)
        segmentId = segmentationNode.GetSegmentation().AddEmptySegment("", "organ", (1.0, 0.0, 0.0))
        segmentations.setSegmentMask(segmentationNode, segmentId, mask, volume)
        logic = MonaiBundleExplorerLogic()
        params = self.newParams(logic, inputVolume=volume, inputSegmentation=segmentationNode,
                                inputSegmentName="organ", bundlePath=bundlePath, device="cpu")  # fmt: skip
        outputs = logic.process(params, timeout=120, runner=testing.RUNNER, inputFormat=".nrrd")
        self.track(outputs.heatmapNode, outputs.tableNode, *outputs.segmentationNodes.values())
        self.track(*outputs.probabilityNodes.values())
        result = outputs.segmentationNodes["segmentation"].GetSegmentation()
        names = [result.GetNthSegment(index).GetName() for index in range(result.GetNumberOfSegments())]
        self.assertEqual(names, [label["name"] for label in testing.SEGMENT_LABELS])
        self.assertEqual(
            result.GetNthSegment(0).GetColor(), tuple(c / 255.0 for c in testing.SEGMENT_LABELS[0]["color"])
        )
        self.assertEqual(sorted(outputs.probabilityNodes), sorted(label["name"] for label in testing.SEGMENT_LABELS))

    def workerPythonForRealBundles(self):
        """A worker Python that already passed the version check (the self-test never installs anything)."""
        from MonaiBundleExplorerLib.workerProcess import workerEnv

        settings = qt.QSettings()
        userData = qt.QStandardPaths.writableLocation(qt.QStandardPaths.AppLocalDataLocation)
        candidates = [
            locations.readPathSetting(settings, locations.WORKER_PYTHON),
            locations.venvPython(locations.defaultWorkerEnvFolder(userData, workerEnv.currentPythonVersion())),
        ]
        for python in candidates:
            if python is not None and python.exists():
                try:
                    if workerEnv.probeEnvironment(python).ready:
                        return str(python)
                except workerEnv.WorkerEnvironmentError:
                    continue
        return None

    def test_realBundleOnCpu(self):
        """The shipped classifier through the real runner in the worker Python (skipped when none is prepared)."""
        import numpy as np

        python = self.workerPythonForRealBundles()
        bundles = [root / "adrenal_hyperplasia_classifier_3d" for root in locations.shippedBundleRoots()]
        bundle = next((path for path in bundles if path.is_dir()), None)
        if python is None or bundle is None:
            self.delayDisplay(_("Skipped the real-bundle test: no prepared worker Python or no shipped bundles"))
            return
        volume = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "MonaiBundleExplorerTestMask")
        self.track(volume)
        k, j, i = np.meshgrid(np.arange(24), np.arange(30), np.arange(28), indexing="ij")
        mask = (((i - 14) / 8.0) ** 2 + ((j - 15) / 11.0) ** 2 + ((k - 12) / 6.0) ** 2 <= 1).astype(np.float32)
        slicer.util.updateVolumeFromArray(volume, mask)
        volume.SetSpacing(1.2, 0.9, 1.6)
        logic = MonaiBundleExplorerLogic()
        logic.workerPython = python
        params = self.newParams(logic, inputVolume=volume, bundlePath=bundle, device="cpu", trustBundle=False)
        outputs = logic.process(params, timeout=300)
        self.track(outputs.heatmapNode, outputs.tableNode)
        np.testing.assert_allclose(mrmlAdapter.ijkToRasArray(outputs.heatmapNode), mrmlAdapter.ijkToRasArray(volume))
        self.assertEqual(slicer.util.arrayFromVolume(outputs.heatmapNode).shape, mask.shape)
        self.assertEqual(outputs.tableNode.GetCellText(0, 0), "normal")
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(volume), mask)

    def test_failedRunLeavesSceneUnchanged(self):
        volume, bundlePath = self.makeVolume()
        logic = MonaiBundleExplorerLogic()
        params = self.newParams(logic, inputVolume=volume, bundlePath=bundlePath)
        nodeCount = slicer.mrmlScene.GetNumberOfNodes()
        with self.assertRaises(RuntimeError):
            logic.process(params, timeout=120, runner="MonaiBundleExplorerLib.noSuchModule:run")
        self.assertEqual(slicer.mrmlScene.GetNumberOfNodes(), nodeCount)
        self.assertTrue(os.path.isdir(self.workDir))
