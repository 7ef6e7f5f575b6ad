"""Inference worker: runs one bundle request in its own process and reports on stdout as JSON lines.

Usage: ``PythonSlicer worker.py REQUEST.json`` (any Python with the runner installed works too).

The request file is a JSON object with:
  ``inputPath`` (NIfTI/NRRD written by the GUI side) or ``inputPaths`` (a list, for a batch), ``bundlePath``,
  ``device`` ("auto", "cpu", "cuda"), ``heatmapMethod`` ("gradcam", "gradcampp", "occlusion"), ``trusted`` (bool),
  ``outputDir``, and optionally ``runner`` ("module:function", default ``monai_ext.bundle.runner:run_bundle``).
  A label map request may add ``backgroundPath`` (the image it was drawn on, for the montages) and
  ``referencePath`` (a DICOM SEG's CT series); both are readable under the sandbox.

Each stdout line is one JSON object:
  ``{"stage": str, "fraction": float in [0, 1], "message": str}`` while running,
  ``{"result": {...}}`` once at the end (exit code 0), or
  ``{"error": {"type": str, "message": str, "details": str}}`` on failure (non-zero exit code).
Anything else the runner prints goes to stderr, so stdout carries the protocol only.

The runner callable is ``runner(request: dict, progress: Callable[[str, float, str], None]) -> dict`` and returns
``{"classNames": [...], "probabilities": [...], "maps": {name: file path}, ...}`` with every map on the input's grid.
The ``runner`` field exists so tests (and the module's self-test) can name a tiny stand-in; it is never taken from
text typed in the GUI.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback

DEFAULT_RUNNER = "monai_ext.bundle.runner:run_bundle"
REQUIRED_FIELDS = ("bundlePath", "outputDir")
EXIT_ERROR = 1
EXIT_RUNNER_MISSING = 3


class WorkerError(Exception):
    """An error with a stable ``type`` for the GUI (request problems, missing runner, bad results)."""

    def __init__(self, errorType: str, message: str, details: str = ""):
        super().__init__(message)
        self.errorType = errorType
        self.details = details


class Reporter:
    """Writes protocol lines to the real stdout, one JSON object per line, flushed at once."""

    def __init__(self, stream):
        self.stream = stream

    def send(self, payload: dict) -> None:
        self.stream.write(json.dumps(payload) + "\n")
        self.stream.flush()

    def progress(self, stage: str, fraction: float, message: str = "") -> None:
        fraction = min(1.0, max(0.0, float(fraction)))
        self.send({"stage": str(stage), "fraction": fraction, "message": str(message)})


def loadRequest(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as file:
            request = json.load(file)
    except (OSError, ValueError) as exc:
        raise WorkerError("RequestError", f"Cannot read the request file {path}: {exc}") from exc
    if not isinstance(request, dict):
        raise WorkerError("RequestError", "The request file must hold a JSON object")
    missing = [field for field in REQUIRED_FIELDS if field not in request]
    if "inputPath" not in request and "inputPaths" not in request:
        missing.append("inputPath")
    if missing:
        raise WorkerError("RequestError", "The request lacks: " + ", ".join(missing))
    return request


def importRunner(spec: str):
    """Import ``module:function``; a missing default runner becomes a clear ``RunnerNotInstalled`` error."""
    moduleName, _, functionName = spec.partition(":")
    if not moduleName or not functionName:
        raise WorkerError("RequestError", f"runner must look like 'module:function', got {spec!r}")
    try:
        module = importlib.import_module(moduleName)
    except ImportError as exc:
        message = f"The bundle runner '{spec}' is not installed in this Python ({sys.executable}): {exc}"
        if spec == DEFAULT_RUNNER:
            message = (
                "The monai-ext bundle runner (monai_ext.bundle.runner) is not installed in this Python "
                f"({sys.executable}). Install monai-ext into Slicer's Python, then try again. ({exc})"
            )
        raise WorkerError("RunnerNotInstalled", message, traceback.format_exc()) from exc
    runner = getattr(module, functionName, None)
    if not callable(runner):
        raise WorkerError("RunnerNotInstalled", f"'{spec}' does not name a callable")
    return runner


def runBundle(request: dict, progress) -> dict:
    """The one place where the worker calls a model: through the bundle runner (imported lazily)."""
    runner = importRunner(request.get("runner") or DEFAULT_RUNNER)
    inputs = request.get("inputPaths")
    if inputs is None:
        return checkResult(runner(request, progress))
    items = []
    for index, inputPath in enumerate(inputs):
        itemRequest = dict(request, inputPath=inputPath, outputDir=os.path.join(request["outputDir"], f"{index:04d}"))
        os.makedirs(itemRequest["outputDir"], exist_ok=True)

        def itemProgress(stage, fraction, message="", index=index):
            progress(
                stage, (index + min(1.0, max(0.0, fraction))) / len(inputs), f"[{index + 1}/{len(inputs)}] {message}"
            )

        try:
            items.append({"inputPath": inputPath, **checkResult(runner(itemRequest, itemProgress))})
        except Exception as exc:  # one bad volume must not stop the batch
            items.append({"inputPath": inputPath, "error": {"type": type(exc).__name__, "message": str(exc)}})
    return {"items": items}


def checkResult(result) -> dict:
    if not isinstance(result, dict):
        raise WorkerError("BadResult", f"The runner returned {type(result).__name__}, not a dict")
    for name, path in (result.get("maps") or {}).items():
        if not os.path.isfile(path):
            raise WorkerError("BadResult", f"The runner reported map '{name}' at {path}, but there is no such file")
    json.dumps(result)  # must be serialisable before it is sent
    return result


def applySandbox(request: dict) -> None:
    """Untrusted request: this process loses the network, writes outside outputDir (and dicom_out) and reads
    outside the bundle, the inputs, dicom_source, referencePath and backgroundPath (monai_ext.sandbox, Linux).

    The protections in force end up in result.json under "protections" (on macOS/Windows: none, with the reason).
    """
    try:
        from pathlib import Path

        from monai_ext.sandbox import SandboxPolicy, apply_sandbox
    except ImportError as exc:
        message = (
            "An untrusted bundle runs only inside monai_ext's sandbox, and monai_ext is not installed in this "
            f"Python ({sys.executable}): prepare the worker environment, or trust the bundle. ({exc})"
        )
        raise WorkerError("RunnerNotInstalled", message) from exc
    inputs = request.get("inputPaths") or [request.get("inputPath")]
    source = request.get("dicom_source") or []  # the input node's DICOM files: read for the DICOM results
    sources = [source] if isinstance(source, str) else list(source)
    # a label map's DICOM SEG reference series and its background image (the CT under the montages): read too
    images = [request.get("referencePath"), request.get("backgroundPath")]
    reads = tuple(Path(p) for p in [request["bundlePath"], *inputs, *sources, *images] if p)
    writes = [request["outputDir"], *([request["dicom_out"]] if request.get("dicom_out") else [])]
    policy = SandboxPolicy(write_dirs=tuple(Path(folder) for folder in writes), read_paths=reads)
    apply_sandbox(policy)


def main(argv: list[str]) -> int:
    # Protocol lines go to the original stdout; fd 1 is pointed at stderr so prints (even from C code) stay out.
    protocolStream = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    reporter = Reporter(protocolStream)
    try:
        if len(argv) != 2:
            raise WorkerError("RequestError", "usage: worker.py REQUEST.json")
        request = loadRequest(argv[1])
        os.makedirs(request["outputDir"], exist_ok=True)
        if not request.get("trusted"):
            applySandbox(request)  # issue 12: kernel sandbox before anything of the bundle is imported or read
        reporter.progress("start", 0.0, "Starting the bundle runner")
        result = runBundle(request, reporter.progress)
        reporter.progress("done", 1.0, "Finished")
        reporter.send({"result": result})
        return 0
    except WorkerError as exc:
        reporter.send({"error": {"type": exc.errorType, "message": str(exc), "details": exc.details}})
        return EXIT_RUNNER_MISSING if exc.errorType == "RunnerNotInstalled" else EXIT_ERROR
    except Exception as exc:
        details = traceback.format_exc()
        reporter.send({"error": {"type": type(exc).__name__, "message": str(exc), "details": details}})
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main(sys.argv))
