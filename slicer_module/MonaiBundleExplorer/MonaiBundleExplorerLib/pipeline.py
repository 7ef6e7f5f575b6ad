"""One inference (or batch) from volume nodes to new result nodes: file out, worker process, files back in.

GUI-free: the widget drives ``poll()`` from a QTimer, scripts and tests call ``wait()``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from . import mrmlAdapter, process, results


@dataclass
class InferenceOptions:
    bundlePath: str
    device: str = "auto"
    heatmapMethod: str = "gradcam"
    trusted: bool = False
    inputFormat: str = ".nii.gz"  # what the runner reads; the self-test uses ".nrrd"
    runner: str | None = None  # tests only: a stand-in for monai_ext.bundle.runner:run_bundle
    python: str | None = None  # default: PythonSlicer inside Slicer
    extraPythonPath: list[str] = field(default_factory=list)


@dataclass
class LoadedOutputs:
    heatmapNode: object | None
    tableNode: object | None
    otherNodes: dict


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
            "outputDir": str(self.workDir / "output"), **inputs,
        }  # fmt: skip
        if self.options.runner:
            request["runner"] = self.options.runner
        return request

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
                raise TimeoutError(f"inference still running after {timeout} s")
            self.poll()
            time.sleep(0.05)
        return self

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def cleanup(self) -> None:
        shutil.rmtree(self.workDir, ignore_errors=True)


class InferenceJob(Job):
    """Run the bundle on one volume node; ``loadOutputs`` turns the result into new nodes."""

    def __init__(self, inputNode, options: InferenceOptions, workDir=None):
        super().__init__(options, workDir)
        self.inputNode = inputNode

    def start(self) -> InferenceJob:
        inputPath = mrmlAdapter.writeVolumeNode(
            self.inputNode, str(self.workDir / ("input" + self.options.inputFormat))
        )
        return self._startWorker(self._request(inputPath=inputPath))

    def loadOutputs(self, opacity: float = 0.5, threshold: float = 0.0, colorName: str = "Inferno") -> LoadedOutputs:
        if self.result is None:
            raise RuntimeError("there is no result to load")
        scene = self.inputNode.GetScene()
        baseName = self.inputNode.GetName()
        maps = dict(self.result.get("maps") or {})
        heatmapNames = self.result.get("heatmaps") or (["heatmap"] if "heatmap" in maps else [])
        heatmapPath = maps.pop(heatmapNames[0], None) if heatmapNames else None  # overlaid; other maps: new nodes
        heatmapNode = None
        if heatmapPath:
            heatmapNode = mrmlAdapter.loadVolumeFile(heatmapPath, f"{baseName} heatmap", self.inputNode)
            mrmlAdapter.showOverlay(self.inputNode, heatmapNode, opacity, threshold, colorName)
        others = {
            name: mrmlAdapter.loadVolumeFile(path, f"{baseName} {name}", self.inputNode) for name, path in maps.items()
        }
        rows = results.probabilityRows(self.result)
        tableNode = (
            mrmlAdapter.fillProbabilityTable(rows, scene=scene, name=f"{baseName} probabilities") if rows else None
        )
        return LoadedOutputs(heatmapNode, tableNode, others)


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
