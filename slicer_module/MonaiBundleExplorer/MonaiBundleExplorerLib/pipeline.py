"""One inference (or batch) from volume nodes to new result nodes: file out, worker process, files back in.

GUI-free: the widget drives ``poll()`` from a QTimer, scripts and tests call ``wait()``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from . import results
from .scene import mrmlAdapter, segmentations
from .workerProcess import process


@dataclass
class InferenceOptions:
    bundlePath: str
    device: str = "auto"
    heatmapMethod: str = "gradcam"
    trusted: bool = False
    inputFormat: str = ".nii.gz"  # what the runner reads; the self-test uses ".nrrd"
    runner: str | None = None  # tests only: a stand-in for monai_ext.bundle.runner:run_bundle
    python: str | None = None  # the worker Python (workerEnv); default: PythonSlicer inside Slicer
    extraPythonPath: list[str] = field(default_factory=list)
    saveDicom: bool = False  # the worker also writes DICOM SEG / parametric maps / SR into <work>/dicom
    dicomSource: list = field(default_factory=list)  # the input node's DICOM files (dicomProvenance)
    dicomNote: str = ""  # why "Save results as DICOM" was not honoured (shown when the run is done)
    extraRequest: dict = field(default_factory=dict)  # tests only: e.g. the stand-in runner's testDelaySeconds


@dataclass
class LoadedOutputs:
    heatmapNode: object | None
    tableNode: object | None
    otherNodes: dict
    segmentationNodes: dict = field(default_factory=dict)  # output name -> vtkMRMLSegmentationNode
    probabilityNodes: dict = field(default_factory=dict)  # segment name -> probability map volume node
    dicomFolder: str | None = None  # what the worker wrote for "Save results as DICOM" (None if nothing)
    dicomImported: bool = False  # True once imported into Slicer's DICOM database
    segmentTableNode: object | None = None  # voxels and mm3 of each segment (from result.json)
    dicomNote: str = ""  # why no DICOM results were written although they were asked for
    protections: str = ""  # one line: the worker's sandbox protections (results.protectionsSummary)
    warnings: str = ""  # one line: the runner's warnings, e.g. an empty heatmap (results.warningsSummary)


class Job:
    """Shared state machine: start the worker, collect events, expose progress, result and error."""

    def __init__(self, options: InferenceOptions, workDir: str | Path | None = None):
        self.options = options
        self.workDir = Path(workDir) if workDir else process.newWorkDir()
        self.worker: process.WorkerProcess | None = None
        self.progress = process.ProgressEvent("queued", 0.0, "")
        self.result: dict | None = None
        self.error: process.ErrorEvent | None = None
        self.log: list[str] = []
        self.done = False

    def _request(self, **inputs) -> dict:
        request = {
            "bundlePath": str(self.options.bundlePath), "device": self.options.device,
            "heatmapMethod": self.options.heatmapMethod, "trusted": bool(self.options.trusted),
            "outputDir": str(self.workDir / "output"), **self.options.extraRequest, **inputs,
        }  # fmt: skip
        if self.options.runner:
            request["runner"] = self.options.runner
        if self.options.saveDicom:
            request["dicom_out"] = str(self.dicomFolder)
            if self.options.dicomSource:  # the SEG / parametric maps / SR then reference the source series
                request["dicom_source"] = [str(path) for path in self.options.dicomSource]
        return request

    @property
    def dicomFolder(self) -> Path:
        return self.workDir / "dicom"

    def _startWorker(self, request: dict) -> Job:
        requestPath = process.writeRequest(self.workDir, request)
        worker = process.WorkerProcess(requestPath, self.options.python, list(self.options.extraPythonPath))
        self.worker = worker.start()
        return self

    def poll(self) -> list:
        events = self.worker.poll() if self.worker else []
        for event in events:
            if isinstance(event, process.ProgressEvent):
                self.progress = event
            elif isinstance(event, process.ResultEvent):
                self.result = event.result
            elif isinstance(event, process.ErrorEvent):
                self.error = event
            elif isinstance(event, process.LogEvent):
                self.log.append(event.text)
            elif isinstance(event, process.ExitEvent):
                self._finish(event)
        return events

    def _finish(self, event: process.ExitEvent) -> None:
        self.done = True
        if self.worker.cancelled:
            self.error = process.ErrorEvent("Cancelled", "Cancelled by the user", event.stderrTail)
        elif event.returnCode != 0 and self.error is None:
            message = f"The inference process stopped unexpectedly (exit code {event.returnCode})"
            self.error = process.ErrorEvent("WorkerCrashed", message, event.stderrTail)
        elif self.result is None and self.error is None:
            self.error = process.ErrorEvent(
                "NoResult", "The inference process ended without a result", event.stderrTail
            )

    def wait(self, timeout: float | None = None) -> Job:
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done:
            if deadline is not None and time.monotonic() > deadline:
                self.cancel()  # a timed-out worker must not keep running (and holding the CPU or GPU)
                raise TimeoutError(f"inference still running after {timeout} s: the worker was stopped")
            self.poll()
            time.sleep(0.05)
        return self

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def cleanup(self) -> None:
        shutil.rmtree(self.workDir, ignore_errors=True)


class InferenceJob(Job):
    """Run the bundle on one volume node, or on one segment of a segmentation node (mask bundles).

    ``loadOutputs`` turns the result into new nodes on the grid of ``referenceNode``: the input volume, or for a
    segment the segmentation's reference volume (or, when it has none, the exported mask, kept as a new node).
    """

    def __init__(self, inputNode, options: InferenceOptions, workDir=None, segmentName: str | None = None):
        super().__init__(options, workDir)
        self.inputNode = inputNode
        self.segmentName = segmentName
        self.referenceNode = inputNode

    def start(self) -> InferenceJob:
        path = str(self.workDir / ("input" + self.options.inputFormat))
        if self.inputNode.IsA("vtkMRMLSegmentationNode"):
            scene = self.inputNode.GetScene()
            reference = self.inputNode.GetNodeReference(self.inputNode.GetReferenceImageGeometryReferenceRole())
            before = mrmlAdapter.nodeIds(scene)
            maskNode = segmentations.exportSegment(self.inputNode, self.segmentName, reference)
            try:
                mrmlAdapter.writeVolumeNode(maskNode, path)
            finally:
                if reference is not None:  # the mask, its display and colour nodes were only needed for the file
                    mrmlAdapter.removeNodesAddedSince(scene, before)
            self.referenceNode = reference or maskNode
        else:
            mrmlAdapter.writeVolumeNode(self.inputNode, path)
        return self._startWorker(self._request(inputPath=path))

    def loadOutputs(self, opacity: float = 0.5, threshold: float = 0.0, colorName: str = "Inferno") -> LoadedOutputs:
        if self.result is None:
            raise RuntimeError("there is no result to load")
        reference = self.referenceNode
        scene = reference.GetScene()
        baseName = self.inputNode.GetName() + (f" {self.segmentName}" if self.segmentName else "")
        maps = dict(self.result.get("maps") or {})
        probabilityPaths = results.segmentProbabilityMaps(self.result)  # segment name -> path
        for path in probabilityPaths.values():  # loaded once, as probability maps (not also as other maps)
            for name in [name for name, mapPath in maps.items() if mapPath == path]:
                maps.pop(name)
        heatmapNames = [name for name in self.result.get("heatmaps") or [] if name in maps]
        heatmapNames = heatmapNames or (["heatmap"] if "heatmap" in maps else [])
        heatmapPath = maps.pop(heatmapNames[0], None) if heatmapNames else None  # overlaid; other maps: new nodes
        heatmapName = results.heatmapNodeName(self.result, baseName, heatmapNames[0]) if heatmapNames else ""
        heatmapNode = self._loadMap(heatmapPath, heatmapName) if heatmapPath else None
        others = {name: self._loadMap(path, f"{baseName} {name}") for name, path in maps.items()}
        probabilities = {
            segment: self._loadMap(path, f"{baseName} {segment} probability")
            for segment, path in probabilityPaths.items()
        }  # fmt: skip
        segmentationNodes = segmentations.loadSegmentationOutputs(self.result, reference, baseName)
        overlay = heatmapNode or next(iter(probabilities.values()), None)
        if overlay is not None:
            mrmlAdapter.showOverlay(reference, overlay, opacity, threshold, colorName)
        rows = results.probabilityRows(self.result)
        tableNode = (
            mrmlAdapter.fillProbabilityTable(rows, scene=scene, name=f"{baseName} probabilities") if rows else None
        )
        dicomFolder = str(self.dicomFolder) if self.dicomFolder.is_dir() and any(self.dicomFolder.iterdir()) else None
        volumeRows = results.segmentVolumeRows(self.result)
        segmentTable = (
            mrmlAdapter.fillSegmentVolumeTable(volumeRows, scene, f"{baseName} segment volumes") if volumeRows else None
        )
        return LoadedOutputs(heatmapNode, tableNode, others, segmentationNodes, probabilities, dicomFolder,
                             segmentTableNode=segmentTable, dicomNote=self.options.dicomNote,
                             protections=results.protectionsSummary(self.result),
                             warnings=results.warningsSummary(self.result))  # fmt: skip

    def _loadMap(self, path: str, name: str):
        node = mrmlAdapter.loadVolumeFile(path, name, self.referenceNode)
        mrmlAdapter.observeSameTransform(node, self.referenceNode)
        return node


class BatchJob(Job):
    """Run the bundle over volume files (no nodes needed); ``writeOutputs`` writes the CSV and a table node."""

    def __init__(self, inputPaths, options: InferenceOptions, workDir=None):
        super().__init__(options, workDir)
        self.inputPaths = [str(path) for path in inputPaths]

    def start(self) -> BatchJob:
        return self._startWorker(self._request(inputPaths=self.inputPaths))

    def writeOutputs(self, csvPath, scene=None):
        items = (self.result or {}).get("items", [])
        results.writeBatchCsv(csvPath, items)
        header, rows = results.batchRows(items)
        return mrmlAdapter.fillTableFromRows(header, rows, scene=scene)
