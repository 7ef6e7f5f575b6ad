# Slicer runs module self-tests with unittest (ScriptedLoadableModuleTest), not pytest: keep its assert methods.
# ruff: noqa: PT009, PT027
import os
import pathlib
import tempfile
from typing import Annotated

import qt
import slicer
import vtk
from MonaiBundleExplorerLib import bundleInfo, dependencies, mrmlAdapter, pipeline, results
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLTableNode
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
            "Run a MONAI bundle (offline) on a volume in a separate process, then see class probabilities in a "
            "table and the heatmap over the volume. Bundles not marked trusted run with safe loading."
        )
        self.parent.acknowledgementText = _("Built on MONAI and 3D Slicer.")


@parameterNodeWrapper
class MonaiBundleExplorerParameterNode:
    inputVolume: vtkMRMLScalarVolumeNode
    bundlePath: pathlib.Path
    trustBundle: bool = False
    device: Annotated[str, Choice(DEVICES)] = "auto"
    heatmapMethod: Annotated[str, Choice(HEATMAP_METHODS)] = "gradcam"
    colorMap: Annotated[str, Choice(COLOR_MAPS)] = "Inferno"
    opacity: Annotated[float, WithinRange(0.0, 1.0)] = 0.5
    threshold: Annotated[float, WithinRange(0.0, 1.0)] = 0.2
    outputHeatmap: vtkMRMLScalarVolumeNode
    outputTable: vtkMRMLTableNode
    batchFolder: pathlib.Path
    batchCsvPath: pathlib.Path


class MonaiBundleExplorerWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Setup, parameter-node wiring, progress and error display; everything else is in the logic."""

    def __init__(self, parent=None):
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self.job = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/MonaiBundleExplorer.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        for selector in (self.ui.inputVolumeSelector, self.ui.outputHeatmapSelector, self.ui.outputTableSelector):
            selector.setMRMLScene(slicer.mrmlScene)
        self.logic = MonaiBundleExplorerLogic()
        self.timer = qt.QTimer()
        self.timer.setInterval(100)
        self.timer.connect("timeout()", self.onTimer)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.saveSegmentationButton.connect("clicked(bool)", self.onSaveSegmentation)
        self.ui.batchRunButton.connect("clicked(bool)", self.onBatchButton)
        self.ui.bundleComboBox.connect("currentIndexChanged(int)", self.onBundlePicked)
        self.ui.progressBar.setVisible(False)
        self.fillBundleList()
        self.initializeParameterNode()

    def cleanup(self):
        if self.job is not None and not self.job.done:
            self.job.cancel()
        self.removeObservers()

    def enter(self):
        self.initializeParameterNode()

    def exit(self):
        self.setParameterNode(None)

    def onSceneStartClose(self, caller, event):
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
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.onParameterChanged)
            self.onParameterChanged()

    def onParameterChanged(self, caller=None, event=None):
        params = self._parameterNode
        running = self.job is not None and not self.job.done
        self.ui.applyButton.enabled = running or bool(params.inputVolume and params.bundlePath)
        self.ui.saveSegmentationButton.enabled = bool(params.outputHeatmap)
        self.ui.bundleInfoText.setPlainText(self.logic.describeBundle(params.bundlePath, params.trustBundle))
        if params.outputHeatmap:
            mrmlAdapter.updateHeatmapDisplay(params.outputHeatmap, params.threshold, params.colorMap)
            mrmlAdapter.setForegroundOpacity(slicer.mrmlScene, params.opacity)

    def fillBundleList(self):
        self.ui.bundleComboBox.clear()
        self.ui.bundleComboBox.addItem(_("(choose a bundle or type a path below)"), "")
        for path in self.logic.availableBundles():
            self.ui.bundleComboBox.addItem(path.name, str(path))

    def onBundlePicked(self, index):
        path = self.ui.bundleComboBox.itemData(index)
        if path and self._parameterNode:
            self._parameterNode.bundlePath = pathlib.Path(path)

    def onApplyButton(self):
        if self.job is not None and not self.job.done:
            self.job.cancel()
            self.ui.statusLabel.text = _("Cancelling...")
            return
        with slicer.util.tryWithErrorDisplay(_("Could not start the inference."), waitCursor=True):
            if not self.logic.ensureDependencies():
                self.ui.statusLabel.text = _("Missing Python packages: not started.")
                return
            self.startJob(self.logic.startInference(self._parameterNode))

    def onBatchButton(self):
        if self.job is not None and not self.job.done:
            return
        with slicer.util.tryWithErrorDisplay(_("Could not start the batch."), waitCursor=True):
            if self.logic.ensureDependencies():
                self.startJob(self.logic.startBatch(self._parameterNode))

    def startJob(self, job):
        self.job = job
        self.ui.applyButton.text = _("Cancel")
        self.ui.progressBar.setVisible(True)
        self.ui.progressBar.value = 0
        self.ui.statusLabel.text = _("Starting...")
        self.ui.detailsTextEdit.setPlainText("")
        self.timer.start()

    def onTimer(self):
        self.job.poll()
        self.ui.progressBar.value = int(100 * self.job.progress.fraction)
        if self.job.progress.message:
            self.ui.statusLabel.text = self.job.progress.message
        if not self.job.done:
            return
        self.timer.stop()
        self.ui.applyButton.text = _("Apply")
        self.ui.progressBar.setVisible(False)
        if self.job.error is not None:
            self.showError(self.job.error)
        else:
            with slicer.util.tryWithErrorDisplay(_("Could not load the results."), waitCursor=True):
                self.logic.loadResults(self.job, self._parameterNode)
                self.ui.statusLabel.text = _("Done.")
        if isinstance(self.job, pipeline.InferenceJob):
            self.job.cleanup()
        self.onParameterChanged()

    def showError(self, error):
        if error.type == "Cancelled":
            self.ui.statusLabel.text = _("Cancelled. The scene is unchanged.")
        else:
            self.ui.statusLabel.text = _("Failed: {message}").format(message=error.message)
            self.ui.detailsCollapsibleButton.collapsed = False
        self.ui.detailsTextEdit.setPlainText(f"{error.type}: {error.message}\n\n{error.details}")

    def onSaveSegmentation(self):
        with slicer.util.tryWithErrorDisplay(_("Could not create the segmentation."), waitCursor=True):
            params = self._parameterNode
            self.logic.saveHeatmapAsSegmentation(params.outputHeatmap, params.threshold)


class MonaiBundleExplorerLogic(ScriptedLoadableModuleLogic):
    """GUI-free: usable from the Python console, the self-test and scripts."""

    def __init__(self):
        ScriptedLoadableModuleLogic.__init__(self)
        self.dependenciesReady = False

    def getParameterNode(self):
        return MonaiBundleExplorerParameterNode(super().getParameterNode())

    def availableBundles(self):
        """Bundles shipped beside this module in the project's ``bundles/`` folder (offline)."""
        projectBundles = pathlib.Path(__file__).resolve().parents[2] / "bundles"
        return bundleInfo.findBundles([projectBundles] if projectBundles.is_dir() else [])

    def describeBundle(self, bundlePath, trusted):
        if not bundlePath or not pathlib.Path(bundlePath).exists():
            return _("No bundle selected.")
        try:
            return bundleInfo.summary(bundleInfo.readBundleInfo(bundlePath), trusted)
        except ValueError as exc:
            return str(exc)

    def ensureDependencies(self):
        """Install missing packages on first use (Apply), never at import time."""
        if not self.dependenciesReady:
            self.dependenciesReady = dependencies.ensureDependencies(requester="MonaiBundleExplorer")
        return self.dependenciesReady

    def options(self, params, **overrides):
        if not params.bundlePath:
            raise ValueError(_("Select a bundle first."))
        return pipeline.InferenceOptions(
            bundlePath=str(params.bundlePath), device=params.device, heatmapMethod=params.heatmapMethod,
            trusted=params.trustBundle, **overrides,
        )  # fmt: skip

    def startInference(self, params, **overrides):
        if not params.inputVolume:
            raise ValueError(_("Select an input volume first."))
        return pipeline.InferenceJob(params.inputVolume, self.options(params, **overrides)).start()

    def loadResults(self, job, params):
        if isinstance(job, pipeline.BatchJob):
            csvPath = params.batchCsvPath or pathlib.Path(job.workDir) / "results.csv"
            params.outputTable = job.writeOutputs(csvPath, slicer.mrmlScene)
            return params.outputTable
        outputs = job.loadOutputs(params.opacity, params.threshold, params.colorMap)
        if outputs.heatmapNode is not None:
            params.outputHeatmap = outputs.heatmapNode
            mrmlAdapter.addColorLegend(outputs.heatmapNode)
        if outputs.tableNode is not None:
            params.outputTable = outputs.tableNode
        return outputs

    def startBatch(self, params, **overrides):
        if not params.batchFolder:
            raise ValueError(_("Select a folder of volumes first."))
        paths = results.volumeFiles(params.batchFolder)
        if not paths:
            raise ValueError(_("No NIfTI or NRRD files in {folder}.").format(folder=params.batchFolder))
        workDir = pathlib.Path(params.batchCsvPath).parent if params.batchCsvPath else None
        return pipeline.BatchJob(paths, self.options(params, **overrides), workDir).start()

    def process(self, params, timeout=600, **overrides):
        """Run synchronously (console, self-test): returns the loaded outputs or raises with the worker's error."""
        job = self.startInference(params, **overrides).wait(timeout)
        try:
            if job.error is not None:
                raise RuntimeError(f"{job.error.type}: {job.error.message}\n{job.error.details}")
            return self.loadResults(job, params)
        finally:
            job.cleanup()

    def saveHeatmapAsSegmentation(self, heatmapNode, threshold):
        if heatmapNode is None:
            raise ValueError(_("There is no heatmap yet."))
        return mrmlAdapter.heatmapToSegmentation(heatmapNode, threshold, name=f"{heatmapNode.GetName()} segmentation")


class MonaiBundleExplorerTest(ScriptedLoadableModuleTest):
    """Runs the logic end to end on CPU: a small volume, a tiny bundle, the worker process, new output nodes."""

    def setUp(self):
        self.workDir = pathlib.Path(tempfile.mkdtemp(prefix="MonaiBundleExplorerTest-"))
        self.createdNodeIds = []

    def tearDown(self):
        for nodeId in self.createdNodeIds:
            node = slicer.mrmlScene.GetNodeByID(nodeId)
            if node is not None:
                slicer.mrmlScene.RemoveNode(node)

    def runTest(self):
        tests = (self.test_inferenceCreatesNewNodes, self.test_failedRunLeavesSceneUnchanged, self.test_realBundleOnCpu)
        for test in tests:
            self.setUp()
            try:
                test()
            finally:
                self.tearDown()

    def makeVolume(self):
        import numpy as np
        from MonaiBundleExplorerLib import testing

        volume = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "MonaiBundleExplorerTestInput")
        self.createdNodeIds.append(volume.GetID())
        k, j, i = np.meshgrid(np.arange(12), np.arange(14), np.arange(16), indexing="ij")
        slicer.util.updateVolumeFromArray(volume, (i * 10.0 + j + 0.5 * k).astype(np.float32))
        volume.SetSpacing(1.5, 1.0, 2.0)
        volume.SetOrigin(-10.0, 20.0, 5.0)
        bundlePath = testing.writeTinyBundle(self.workDir / "tiny_bundle")
        return volume, bundlePath

    def test_inferenceCreatesNewNodes(self):
        import numpy as np
        from MonaiBundleExplorerLib import testing

        self.delayDisplay(_("Running the tiny bundle on CPU"))
        volume, bundlePath = self.makeVolume()
        before = slicer.util.arrayFromVolume(volume).copy()
        logic = MonaiBundleExplorerLogic()
        params = logic.getParameterNode()
        params.inputVolume, params.bundlePath, params.device = volume, bundlePath, "cpu"
        outputs = logic.process(params, timeout=120, runner=testing.RUNNER, inputFormat=".nrrd")
        self.createdNodeIds += [outputs.heatmapNode.GetID(), outputs.tableNode.GetID()]
        heatmap = slicer.util.arrayFromVolume(outputs.heatmapNode)
        self.assertNotEqual(outputs.heatmapNode.GetID(), volume.GetID())
        self.assertEqual(heatmap.shape, before.shape)
        self.assertTrue(heatmap.min() >= 0.0 and heatmap.max() <= 1.0)
        np.testing.assert_allclose(mrmlAdapter.ijkToRasArray(outputs.heatmapNode), mrmlAdapter.ijkToRasArray(volume))
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(volume), before)
        self.assertEqual(outputs.tableNode.GetNumberOfRows(), len(testing.CLASS_NAMES))
        composite = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLSliceCompositeNode")
        self.assertEqual(composite.GetForegroundVolumeID(), outputs.heatmapNode.GetID())
        segmentation = logic.saveHeatmapAsSegmentation(outputs.heatmapNode, 0.5)
        self.createdNodeIds.append(segmentation.GetID())
        self.assertEqual(segmentation.GetSegmentation().GetNumberOfSegments(), 1)
        self.delayDisplay(_("Test passed"))

    def test_realBundleOnCpu(self):
        """The shipped classifier through the real runner (needs monai-ext in Slicer's Python; skipped otherwise)."""
        import importlib.util

        import numpy as np

        bundle = pathlib.Path(__file__).resolve().parents[2] / "bundles" / "adrenal_hyperplasia_classifier_3d"
        if importlib.util.find_spec("monai_ext") is None or not bundle.is_dir():
            self.delayDisplay(_("Skipped the real-bundle test: monai-ext or the project's bundles are not installed"))
            return
        volume = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "MonaiBundleExplorerTestMask")
        self.createdNodeIds.append(volume.GetID())
        k, j, i = np.meshgrid(np.arange(24), np.arange(30), np.arange(28), indexing="ij")
        mask = (((i - 14) / 8.0) ** 2 + ((j - 15) / 11.0) ** 2 + ((k - 12) / 6.0) ** 2 <= 1).astype(np.float32)
        slicer.util.updateVolumeFromArray(volume, mask)
        volume.SetSpacing(1.2, 0.9, 1.6)
        logic = MonaiBundleExplorerLogic()
        params = logic.getParameterNode()
        params.inputVolume, params.bundlePath, params.device = volume, bundle, "cpu"
        outputs = logic.process(params, timeout=300)
        self.createdNodeIds += [outputs.heatmapNode.GetID(), outputs.tableNode.GetID()]
        np.testing.assert_allclose(mrmlAdapter.ijkToRasArray(outputs.heatmapNode), mrmlAdapter.ijkToRasArray(volume))
        self.assertEqual(slicer.util.arrayFromVolume(outputs.heatmapNode).shape, mask.shape)
        self.assertEqual(outputs.tableNode.GetCellText(0, 0), "normal")
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(volume), mask)

    def test_failedRunLeavesSceneUnchanged(self):
        volume, bundlePath = self.makeVolume()
        logic = MonaiBundleExplorerLogic()
        params = logic.getParameterNode()
        params.inputVolume, params.bundlePath = volume, bundlePath
        nodeCount = slicer.mrmlScene.GetNumberOfNodes()
        with self.assertRaises(RuntimeError):
            logic.process(params, timeout=120, runner="MonaiBundleExplorerLib.noSuchModule:run")
        self.assertEqual(slicer.mrmlScene.GetNumberOfNodes(), nodeCount)
        self.assertTrue(os.path.isdir(self.workDir))
