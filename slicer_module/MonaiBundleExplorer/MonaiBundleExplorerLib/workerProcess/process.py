"""Start the worker in its own process, read its JSON lines without blocking, cancel its whole process tree.

GUI-free and Slicer-free: the widget polls ``WorkerProcess.poll()`` from a QTimer; tests call it in a loop.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from . import workerEnv
from .subprocessOptions import hiddenWindowOptions, workerProcessOptions

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
MODULE_DIR = Path(__file__).resolve().parents[2]  # the folder holding MonaiBundleExplorerLib


@dataclass(frozen=True)
class ProgressEvent:
    stage: str
    fraction: float
    message: str


@dataclass(frozen=True)
class ResultEvent:
    result: dict


@dataclass(frozen=True)
class ErrorEvent:
    type: str
    message: str
    details: str = ""


@dataclass(frozen=True)
class LogEvent:
    """A stdout line that is not protocol JSON (shown in the details, never parsed further)."""

    text: str


@dataclass(frozen=True)
class ExitEvent:
    returnCode: int
    stderrTail: str = ""


def parseLine(line: str):
    """One stdout line -> a typed event (``LogEvent`` for anything that is not a protocol object)."""
    text = line.strip()
    try:
        payload = json.loads(text)
    except ValueError:
        return LogEvent(text)
    if not isinstance(payload, dict):
        return LogEvent(text)
    if "result" in payload and isinstance(payload["result"], dict):
        return ResultEvent(payload["result"])
    if "error" in payload and isinstance(payload["error"], dict):
        error = payload["error"]
        return ErrorEvent(str(error.get("type", "Error")), str(error.get("message", "")), str(error.get("details", "")))
    if "stage" in payload:
        try:
            fraction = min(1.0, max(0.0, float(payload.get("fraction", 0.0))))
        except (TypeError, ValueError):
            fraction = 0.0
        return ProgressEvent(str(payload["stage"]), fraction, str(payload.get("message", "")))
    return LogEvent(text)


def pythonExecutable() -> str:
    """``PythonSlicer`` inside Slicer (so the worker sees Slicer's site-packages), else this Python."""
    try:
        import slicer

        home = slicer.app.slicerHome
    except (ImportError, AttributeError):
        return sys.executable
    name = "PythonSlicer.exe" if os.name == "nt" else "PythonSlicer"
    found = shutil.which(name) or os.path.join(home, "bin", name)
    return found if os.path.exists(found) else sys.executable


def writeRequest(directory: str | os.PathLike, request: dict) -> Path:
    """Write ``request.json`` into ``directory`` (created if needed) and return its path."""
    path = Path(directory) / "request.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(request, indent=2), encoding="utf-8")
    return path


def newWorkDir(prefix: str = "MonaiBundleExplorer-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


@dataclass
class WorkerProcess:
    """One running worker. ``poll()`` never blocks; ``cancel()`` kills the worker and every child it started."""

    requestPath: Path
    python: str | None = None
    extraPythonPath: list[str] = field(default_factory=list)
    events: queue.Queue = field(default_factory=queue.Queue, init=False)
    process: subprocess.Popen | None = field(default=None, init=False)
    cancelled: bool = field(default=False, init=False)
    finished: bool = field(default=False, init=False)

    def start(self) -> WorkerProcess:
        python = self.python or pythonExecutable()
        # The worker's own environment: none of Slicer's PYTHONPATH, only this module's Lib (and test extras).
        env = dict(workerEnv.launchEnvironment(python), PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join([str(MODULE_DIR), *self.extraPythonPath])
        command = [python, str(WORKER_SCRIPT), str(self.requestPath)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
            text=True, encoding="utf-8", errors="replace", bufsize=1, **workerProcessOptions(),
        )  # fmt: skip
        self._stderrTail: deque[str] = deque(maxlen=200)
        self._stderrThread = threading.Thread(target=self._readStderr, daemon=True)
        self._stderrThread.start()
        threading.Thread(target=self._readStdout, daemon=True).start()
        return self

    def _readStderr(self) -> None:
        for line in self.process.stderr:
            self._stderrTail.append(line)

    def _readStdout(self) -> None:
        for line in self.process.stdout:
            if line.strip():
                self.events.put(parseLine(line))
        returnCode = self.process.wait()
        self._stderrThread.join(timeout=5)
        self.events.put(ExitEvent(returnCode, "".join(self._stderrTail)))

    def poll(self) -> list:
        """Every event received since the last call (never blocks)."""
        received = []
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return received
            self.finished = self.finished or isinstance(event, ExitEvent)
            received.append(event)

    def wait(self, timeout: float | None = None, interval: float = 0.05) -> list:
        """Block until the worker exits (tests, the Python console, batch scripts); returns all events."""
        deadline = None if timeout is None else time.monotonic() + timeout
        received = []
        while not self.finished:
            if deadline is not None and time.monotonic() > deadline:
                self.cancel()
                raise TimeoutError(f"worker still running after {timeout} s: it was stopped")
            received += self.poll()
            time.sleep(interval)
        return received

    @property
    def pid(self) -> int:
        return self.process.pid

    def isRunning(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cancel(self, grace: float = 2.0) -> None:
        """Terminate the worker's process group (children included), then kill what is left after ``grace`` s."""
        if self.process is None:
            return
        self.cancelled = True
        if os.name == "nt":
            command = ["taskkill", "/F", "/T", "/PID", str(self.process.pid)]
            subprocess.run(command, capture_output=True, check=False, **hiddenWindowOptions())
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=wait)
                _waitGroupGone(self.process.pid, wait)
                return
            except subprocess.TimeoutExpired:
                continue


def _waitGroupGone(pgid: int, timeout: float) -> None:
    """Wait until no process of group ``pgid`` is left (children may outlive the leader by a moment)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.02)
    raise subprocess.TimeoutExpired(f"process group {pgid}", timeout)
