"""The module's logic without Slicer's application layer: MRML in, worker process, new MRML nodes out.

``MonaiBundleExplorerLogic`` (the module script) is this class plus Slicer's ScriptedLoadableModuleLogic; the CI
walkthrough drives the same class against slicer-core's MRML. ``params`` is the parameter node (any object with the
fields of ``MonaiBundleExplorerParameterNode``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from . import bundleInfo, locations, pipeline, results
from .scene import dicomImport, dicomProvenance, mrmlAdapter

try:
    from slicer.i18n import tr as _
except ImportError:  # slicer-core has no translation layer

    def _(text):
        return text


class BundleExplorerCore:
    """GUI-free: usable from the Python console, the self-test, the CI walkthrough and scripts."""

    def __init__(self, settings=None):
        self.settings = settings  # QSettings-like (value/setValue); None: no user settings
        self.workerPython: str | None = None  # the prepared worker Python; None: PythonSlicer (self-test runner)
        self.runOverrides: dict = {}  # tests only: InferenceOptions fields for every run (the stand-in runner)
        self.dicomDatabase = None  # ctkDICOMDatabase-like; None: slicer.dicomDatabase (tests: a stand-in)

    # Bundles -------------------------------------------------------------------------------------------------
    def bundleRoots(self) -> list:
        roots = locations.shippedBundleRoots()
        userFolder = locations.readPathSetting(self.settings, locations.USER_BUNDLE_FOLDER)
        return [*roots, userFolder] if userFolder is not None and userFolder.is_dir() else roots

    def availableBundles(self) -> list:
        """Bundles shipped with the extension, then those in the user's bundle folder (module setting)."""
        return bundleInfo.findBundles(self.bundleRoots())

    def describeBundle(self, bundlePath, trusted) -> str:
        if not locations.isSetPath(bundlePath) or not Path(bundlePath).exists():
            return _("No bundle selected.")
        try:
            return bundleInfo.summary(bundleInfo.readBundleInfo(bundlePath), trusted)
        except ValueError as exc:
            return str(exc)

    def bundleTakesMask(self, bundlePath) -> bool:
        try:
            return locations.isSetPath(bundlePath) and bundleInfo.readBundleInfo(bundlePath).takesMask
        except ValueError:
            return False

    # Runs ----------------------------------------------------------------------------------------------------
    def options(self, params, **overrides) -> pipeline.InferenceOptions:
        if not locations.isSetPath(params.bundlePath):
            raise ValueError(_("Select a bundle first."))
        fields = {"python": self.workerPython, "saveDicom": bool(getattr(params, "saveDicom", False))}
        fields.update(self.runOverrides, **overrides)
        return pipeline.InferenceOptions(
            bundlePath=str(params.bundlePath), device=params.device, heatmapMethod=params.heatmapMethod,
            trusted=params.trustBundle, **fields,
        )  # fmt: skip

    def inputOf(self, params):
        """``(node, segmentName)``: the chosen segment for a mask bundle when a segmentation is chosen."""
        segmentation = getattr(params, "inputSegmentation", None)
        if segmentation is not None and self.bundleTakesMask(params.bundlePath):
            if not params.inputSegmentName:
                raise ValueError(_("Select a segment of {name} first.").format(name=segmentation.GetName()))
            return segmentation, params.inputSegmentName
        if not params.inputVolume:
            raise ValueError(_("Select an input volume first."))
        return params.inputVolume, None

    def startInference(self, params, **overrides) -> pipeline.InferenceJob:
        options = self.options(params, **overrides)
        node, segmentName = self.inputOf(params)
        if options.saveDicom:
            options = self.withDicomSource(options, self.dicomSourceNode(node))
        return pipeline.InferenceJob(node, options, segmentName=segmentName).start()

    @staticmethod
    def dicomSourceNode(node):
        """The volume whose series DICOM results refer to: the input, or a segment's reference volume.

        A segmentation without a reference volume has its own grid: no series to refer to (``None``).
        """
        if node is not None and node.IsA("vtkMRMLSegmentationNode"):
            return node.GetNodeReference(node.GetReferenceImageGeometryReferenceRole())
        return node

    def withDicomSource(self, options, node) -> pipeline.InferenceOptions:
        """ "Save results as DICOM": the node's DICOM files as ``dicom_source``, or no DICOM output and why."""
        source = dicomProvenance.dicomSourceOf(node, self.dicomDatabase)
        if not source.files:
            return dataclasses.replace(options, saveDicom=False, dicomSource=[], dicomNote=source.reason)
        return dataclasses.replace(options, dicomSource=source.files, dicomNote="")

    def startBatch(self, params, **overrides) -> pipeline.BatchJob:
        if not locations.isSetPath(params.batchFolder) or not Path(params.batchFolder).is_dir():
            raise ValueError(_("Select a folder of volumes first."))
        if not locations.isSetPath(params.batchCsvPath):
            raise ValueError(_("Choose where the CSV table is written first."))
        paths = results.volumeFiles(params.batchFolder)
        if not paths:
            raise ValueError(_("No NIfTI or NRRD files in {folder}.").format(folder=params.batchFolder))
        workDir = Path(params.batchCsvPath).parent / (Path(params.batchCsvPath).stem + "_outputs")
        options = self.options(params, **overrides)
        if options.saveDicom:  # files, not DICOM-loaded nodes: there is no source series to reference
            note = _("DICOM results need volumes loaded from Slicer's DICOM database; a batch of files has none.")
            options = dataclasses.replace(options, saveDicom=False, dicomNote=note)
        return pipeline.BatchJob(paths, options, workDir).start()

    def loadResults(self, job, params):
        """New nodes from a finished job; the parameter node given is the one the job was started with."""
        if isinstance(job, pipeline.BatchJob):
            params.outputTable = job.writeOutputs(params.batchCsvPath, _scene(params))
            return params.outputTable
        outputs = job.loadOutputs(params.opacity, params.threshold, params.colorMap)
        if outputs.heatmapNode is not None:
            params.outputHeatmap = outputs.heatmapNode
            mrmlAdapter.addColorLegend(outputs.heatmapNode)
        elif outputs.probabilityNodes:
            params.outputHeatmap = next(iter(outputs.probabilityNodes.values()))
        if outputs.tableNode is not None:
            params.outputTable = outputs.tableNode
        if outputs.segmentationNodes:
            params.outputSegmentation = next(iter(outputs.segmentationNodes.values()))
        if outputs.dicomFolder:
            outputs.dicomImported = self.importDicomFolder(outputs.dicomFolder)
        return outputs

    def process(self, params, timeout=600, **overrides):
        """Run synchronously (console, self-test): returns the loaded outputs or raises with the worker's error."""
        job = self.startInference(params, **overrides).wait(timeout)
        try:
            if job.error is not None:
                raise RuntimeError(f"{job.error.type}: {job.error.message}\n{job.error.details}")
            return self.loadResults(job, params)
        finally:
            job.cleanup()

    # Results -------------------------------------------------------------------------------------------------
    def showProbability(self, outputs, segmentName: str, params):
        """Overlay a segment's probability map like a heatmap; returns the node shown."""
        node = outputs.probabilityNodes.get(segmentName)
        if node is None:
            raise ValueError(_("No probability map for segment {name}.").format(name=segmentName))
        reference = params.inputVolume or node
        mrmlAdapter.showOverlay(reference, node, params.opacity, params.threshold, params.colorMap)
        params.outputHeatmap = node
        return node

    def saveHeatmapAsSegmentation(self, heatmapNode, threshold):
        if heatmapNode is None:
            raise ValueError(_("There is no heatmap yet."))
        return mrmlAdapter.heatmapToSegmentation(heatmapNode, threshold, name=f"{heatmapNode.GetName()} segmentation")

    def importDicomFolder(self, folder) -> bool:
        """Import what the worker wrote as DICOM into Slicer's database; False when the DICOM module is absent."""
        return dicomImport.importFolder(folder)


def _scene(params):
    node = params.inputVolume or getattr(params, "inputSegmentation", None)
    return node.GetScene() if node is not None else None
