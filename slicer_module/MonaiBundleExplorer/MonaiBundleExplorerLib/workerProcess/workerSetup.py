"""Inside Slicer: find or prepare the worker Python on the first Apply, with the user's consent (dialogs).

The design is in ``workerEnv``; this file only adds Slicer's dialogs, the PyTorch extension and the settings.
Nothing is installed into Slicer's own Python except torch through the PyTorch extension (which is how Slicer's
deep-learning extensions share one torch), and only when the user agrees in its dialog.
"""

from __future__ import annotations

import importlib.util
import sys

from .. import locations
from . import process, workerEnv

TORCH_REQUIREMENT = ">=2.8"  # the project's torch range (pyproject.toml; a test keeps them equal)


def ensureWorkerPython(settings, userDataDir) -> str | None:
    """The path of a worker Python that passed the version check, or ``None`` (the user was told why)."""
    import slicer

    source = locations.projectSource()
    expected = locations.projectVersion(source) if source is not None else None
    chosen = locations.readPathSetting(settings, locations.WORKER_PYTHON)
    if chosen is not None:
        return _checked(chosen, expected, slicer, _("The worker Python chosen in the module settings"))
    folder = locations.readPathSetting(settings, locations.WORKER_ENV_FOLDER) or locations.defaultWorkerEnvFolder(
        userDataDir, workerEnv.currentPythonVersion()
    )
    python = locations.venvPython(folder)
    if python.exists():
        report = workerEnv.probeEnvironment(python, expected)
        if report.ready:
            return str(python)
    if source is None:
        slicer.util.errorDisplay(_("This extension holds no copy of monai-ext to install. Choose a worker Python "
                                   "with monai-ext installed in the module's Settings."))  # fmt: skip
        return None
    if sys.version_info < workerEnv.MINIMUM_PYTHON:
        slicer.util.errorDisplay(
            _("Slicer's Python is {version}; the worker needs Python 3.10 or later. Choose a Python >= 3.10 (for "
              "example a conda environment) as the worker Python in the module's Settings, or use Slicer 5.10 or "
              "later.").format(version=workerEnv.currentPythonVersion())
        )  # fmt: skip
        return None
    return _createAndInstall(folder, source, expected, slicer)


def _checked(python, expected, slicer, what):
    try:
        report = workerEnv.probeEnvironment(python, expected)
    except workerEnv.WorkerEnvironmentError as exc:
        slicer.util.errorDisplay(f"{what}: {exc}")
        return None
    if report.ready:
        return str(python)
    slicer.util.errorDisplay(f"{what} cannot run bundles.", detailedText=report.summary())
    return None


def _createAndInstall(folder, source, expected, slicer):
    torchNote = _ensureTorch(slicer)
    python = locations.venvPython(folder)
    try:
        if not python.exists():
            workerEnv.createVenv(process.pythonExecutable(), folder)  # PythonSlicer
        plan = workerEnv.installPlan(python, source)
    except workerEnv.WorkerEnvironmentError as exc:
        slicer.util.errorDisplay(_("Could not prepare the worker environment."), detailedText=str(exc))
        return None
    question = _(
        "MONAI Bundle Explorer runs bundles in its own Python environment:\n{folder}\n\nIt will install monai-ext "
        "from this extension ({source}) and these packages there (Slicer's own packages stay as they are):\n\n"
        "{packages}\n\n{torch}Install now?"
    ).format(folder=folder, source=source, packages=plan.describe(), torch=torchNote)
    if not slicer.util.confirmOkCancelDisplay(question):
        return None
    try:
        workerEnv.install(python, source)
    except workerEnv.WorkerEnvironmentError as exc:
        slicer.util.errorDisplay(_("Could not install the worker environment."), detailedText=str(exc))
        return None
    return _checked(python, expected, slicer, _("The new worker environment"))


def _ensureTorch(slicer) -> str:
    """torch through the PyTorch extension when it is there; otherwise say where torch will come from."""
    if importlib.util.find_spec("torch") is not None:
        return _("torch from Slicer's Python (the PyTorch extension) is reused.\n\n")
    try:
        import PyTorchUtils
    except ImportError:
        return _("The PyTorch extension is not installed: torch will come from PyPI (a CPU-only build on Windows). "
                 "Install the PyTorch extension first for a CUDA build.\n\n")  # fmt: skip
    torch = PyTorchUtils.PyTorchUtilsLogic().installTorch(
        askConfirmation=True, torchVersionRequirement=TORCH_REQUIREMENT
    )
    if torch is None:
        return _("torch was not installed by the PyTorch extension: it will come from PyPI.\n\n")
    return _("torch {version} from the PyTorch extension is reused.\n\n").format(version=torch.__version__)


try:
    from slicer.i18n import tr as _
except ImportError:  # slicer-core has no translation layer

    def _(text):
        return text
