"""A user's walk through the panel without Slicer: real Qt (PySide6, offscreen), real MRML (slicer-core), real worker.

The panel is the module's .ui file; clicks go to the module's own ``panel.PanelController`` and ``core`` logic, which
the Slicer widget uses too. What Slicer itself would do is done here by hand and said so: the parameter node is a
plain object with the module's fields (slicer-core has no ``parameterNodeWrapper``), the node selectors are the
.ui's QComboBox fallbacks showing the chosen node's name, and ``onParameterChanged`` is called where the node's
ModifiedEvent would call it. Screenshots of each state go to ``tests/artifacts/slicer_module/walkthrough-*.png``.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from .conftest import require_slicer_core

slicer = require_slicer_core()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
QtCore = pytest.importorskip("PySide6.QtCore", reason="PySide6 is part of requirements/slicer-core.txt")
from MonaiBundleExplorerLib import core, locations, panel, results, testing  # noqa: E402
from MonaiBundleExplorerLib.scene import mrmlAdapter, segmentations  # noqa: E402
from PySide6 import QtGui, QtUiTools, QtWidgets  # noqa: E402

from ..conftest import ARTIFACTS, MODULE_SCRIPT, UI_FILE, shipped_bundles  # noqa: E402
from .conftest import WORKER_PYTHONPATH, add_volume, real_worker_python, scene_snapshot  # noqa: E402

CHOICES = {
    "device": ["auto", "cpu", "cuda"],
    "heatmapMethod": ["gradcam", "gradcampp", "occlusion"],
    "colorMap": list(mrmlAdapter.COLOR_FALLBACKS),
}  # fmt: skip  (the module's Choice lists; a test checks)
SCREENSHOT = os.environ.get("MONAI_BUNDLE_EXPLORER_SCREENSHOT")  # also write the results state here (README)


class Settings(dict):
    """QSettings' value/setValue (the module's settings: here, the user bundle folder)."""

    def value(self, key, default=None):
        return self.get(key, default)

    def setValue(self, key, value):  # noqa: N802 (QSettings' name)
        self[key] = value


def parameter_node():
    """An object with the fields and defaults of the module's ``@parameterNodeWrapper`` class (read by ``ast``)."""
    tree = ast.parse(MODULE_SCRIPT.read_text(encoding="utf-8"))
    wrapper = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name.endswith("ParameterNode"))
    fields = {}
    for item in wrapper.body:
        if isinstance(item, ast.AnnAssign):
            annotation = ast.unparse(item.annotation)
            default = ast.literal_eval(item.value) if item.value is not None else None
            fields[item.target.id] = Path() if annotation == "pathlib.Path" and default is None else default
    return SimpleNamespace(**fields)


class Panel:
    """The loaded .ui, the controller, and a user's hands."""

    def __init__(self, logic, params, scene):
        loader = QtUiTools.QUiLoader()
        file = QtCore.QFile(str(UI_FILE))
        assert file.open(QtCore.QIODevice.OpenModeFlag.ReadOnly)
        self.widget = loader.load(file)
        file.close()
        self.widget.resize(420, 1080)
        self.widget.show()
        self.ui = SimpleNamespace(**{
            child.objectName(): child for child in self.widget.findChildren(QtCore.QObject) if child.objectName()
        })  # fmt: skip
        self.timer = QtCore.QTimer()
        self.timer.setInterval(50)
        self.controller = panel.PanelController(self.ui, logic, self.timer)
        self.timer.timeout.connect(self.controller.tick)
        self.ui.applyButton.clicked.connect(self.controller.onApply)
        self.ui.bundleComboBox.currentIndexChanged.connect(self.controller.onBundlePicked)
        self.ui.inputSegmentComboBox.currentTextChanged.connect(self.controller.onSegmentPicked)
        self.ui.probabilitySegmentComboBox.currentTextChanged.connect(self.controller.onProbabilitySegmentPicked)
        self.ui.progressBar.setVisible(False)
        self.params, self.scene = params, scene
        self.controller.fillBundleList()
        self.controller.setParams(params)
        folder = locations.readPathSetting(logic.settings, locations.USER_BUNDLE_FOLDER)
        self.ui.userBundleFolderPathLineEdit.setText(str(folder or ""))  # what the widget's setupSettings shows

    def parameter_changed(self):
        """What the parameter node's ModifiedEvent observer and ``connectGui`` do in Slicer."""
        self.controller.onParameterChanged()
        for name in ("inputVolume", "inputSegmentation", "outputHeatmap", "outputTable", "outputSegmentation"):
            combo, node = getattr(self.ui, name + "Selector"), getattr(self.params, name)
            combo.clear()
            combo.addItem(node.GetName() if node is not None else "None")
        self.ui.trustBundleCheckBox.setChecked(bool(self.params.trustBundle))  # connectGui's checkbox bindings
        self.ui.saveDicomCheckBox.setChecked(bool(self.params.saveDicom))
        path = self.params.bundlePath
        self.ui.bundlePathLineEdit.setText(str(path) if locations.isSetPath(path) else "")
        for name, choices in CHOICES.items():  # connectGui fills Choice fields' combo boxes and selects the value
            combo = getattr(self.ui, name + "ComboBox")
            if combo.count() != len(choices):
                combo.addItems(choices)
            combo.setCurrentText(getattr(self.params, name))
        QtWidgets.QApplication.processEvents()

    def choose(self, **fields):
        for name, value in fields.items():
            setattr(self.params, name, value)
        self.parameter_changed()

    def pick_bundle(self, name):
        combo = self.ui.bundleComboBox
        index = next(i for i in range(combo.count()) if combo.itemText(i) == name)
        combo.setCurrentIndex(index)  # the user picks it from the list
        self.parameter_changed()

    def click(self, button):
        assert button.isEnabled(), f"{button.objectName()} is disabled"
        button.click()
        self.parameter_changed()

    def wait_until(self, condition, timeout=60.0):
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "the panel never reached the expected state"
            QtWidgets.QApplication.processEvents()
            time.sleep(0.02)
        self.parameter_changed()

    def screenshot(self, name) -> Path:
        QtWidgets.QApplication.processEvents()
        image = self.widget.grab().toImage()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"walkthrough-{name}.png"
        assert image.save(str(path))
        colours = {image.pixel(x, y) for x in range(0, image.width(), 5) for y in range(0, image.height(), 5)}
        assert len(colours) > 8, f"{path} is blank"
        return path


@pytest.fixture
def app():
    return QtWidgets.QApplication.instance() or QtWidgets.QApplication([])


@pytest.fixture
def setting_up(app, scene, tmp_path):
    """A scene with a volume and a segmentation, a user bundle folder with the tiny mask bundle, the panel."""
    bundles = tmp_path / "my bundles"
    testing.writeTinyBundle(bundles / "tiny_mask_bundle", maskInput=True)
    logic = core.BundleExplorerCore(settings=Settings({locations.USER_BUNDLE_FOLDER: str(bundles)}))
    logic.workerPython = sys.executable  # numpy + nibabel: enough for the stand-in runner
    logic.runOverrides = {"runner": testing.RUNNER, "extraPythonPath": WORKER_PYTHONPATH}
    k, j, i = np.meshgrid(np.arange(12), np.arange(14), np.arange(16), indexing="ij")
    volume = add_volume(scene, (i * 10.0 + j + 0.5 * k).astype(np.float32), np.diag([1.5, 1.0, 2.0, 1.0]), "CT")
    slicer.vtkMRMLSubjectHierarchyNode.ResolveSubjectHierarchy(scene)  # Slicer's scene always has it
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Organs")
    segmentation.SetReferenceImageGeometryParameterFromVolumeNode(volume)
    for name, low in (("adrenal", 60), ("kidney", 100)):
        segment_id = segmentation.GetSegmentation().AddEmptySegment("", name, (0.2, 0.8, 0.2))
        mask = (slicer.util.arrayFromVolume(volume) > low).astype(np.uint8)
        segmentations.setSegmentMask(segmentation, segment_id, mask, volume)
    return Panel(logic, parameter_node(), scene), volume, segmentation


def test_a_user_runs_cancels_and_reruns_a_bundle(setting_up):
    view, volume, segmentation = setting_up
    ui = view.ui
    view.parameter_changed()
    assert ui.statusLabel.text() == "Ready."
    assert not ui.applyButton.isEnabled() and ui.bundleInfoText.toPlainText() == "No bundle selected."
    view.screenshot("1-start")

    # Choose a bundle (shipped ones first, then the user's folder), an input volume and a segment.
    names = [ui.bundleComboBox.itemText(i) for i in range(ui.bundleComboBox.count())]
    shipped = shipped_bundles()  # every bundle of the repository's bundles/ folder, then the user's
    assert names[1:] == [*shipped, "tiny_mask_bundle"]
    for folder, name in shipped.items():  # each one's info names it (its metadata was read)
        view.pick_bundle(folder)
        assert ui.bundleInfoText.toPlainText().startswith(name), folder
    view.pick_bundle("tiny_mask_bundle")
    assert "tiny_test_bundle" in ui.bundleInfoText.toPlainText() and not ui.applyButton.isEnabled()
    view.choose(inputVolume=volume, inputSegmentation=segmentation)
    assert ui.inputSegmentComboBox.isEnabled()
    assert [ui.inputSegmentComboBox.itemText(i) for i in range(ui.inputSegmentComboBox.count())] == [
        "adrenal",
        "kidney",
    ]
    ui.inputSegmentComboBox.setCurrentIndex(1)  # the user picks "kidney"
    view.parameter_changed()
    assert view.params.inputSegmentName == "kidney" and ui.applyButton.isEnabled()
    view.screenshot("2-chosen")
    other = view.scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Other")  # switching segmentations...
    view.choose(inputSegmentation=other)
    assert view.params.inputSegmentName == "" and ui.inputSegmentComboBox.count() == 0
    view.choose(inputSegmentation=segmentation)  # ...and back: its first segment, then the user's choice again
    assert view.params.inputSegmentName == "adrenal"
    ui.inputSegmentComboBox.setCurrentIndex(1)
    view.parameter_changed()
    view.scene.RemoveNode(other)
    before = scene_snapshot(view.scene)

    # Apply: progress shows and Apply turns into Cancel; then cancel.
    view.controller.logic.runOverrides["extraRequest"] = {"testDelaySeconds": 60}
    view.click(ui.applyButton)
    assert ui.applyButton.text() == "Cancel" and ui.progressBar.isVisible()
    view.wait_until(lambda: view.controller.job.progress.stage == "load")
    assert ui.progressBar.value() == 10 and ui.statusLabel.text() == "Reading the input volume"
    view.screenshot("3-running")
    view.click(ui.applyButton)
    view.wait_until(lambda: not view.controller.running)
    assert ui.statusLabel.text() == "Cancelled. The scene is unchanged." and ui.applyButton.text() == "Apply"
    assert not ui.progressBar.isVisible() and scene_snapshot(view.scene) == before
    view.screenshot("4-cancelled")

    # Apply again: results as new nodes; the segment's probability can be overlaid.
    view.controller.logic.runOverrides["extraRequest"] = {}
    view.click(ui.applyButton)
    view.wait_until(lambda: not view.controller.running)
    assert ui.statusLabel.text().startswith("Done.") and "2 segments" in ui.statusLabel.text()
    sandbox = results.protectionsSummary(view.controller.job.result)  # the untrusted run's worker was sandboxed
    assert sandbox.startswith("sandbox: ") and sandbox in ui.statusLabel.text()
    outputs = view.controller.outputs
    result = outputs.segmentationNodes["segmentation"]
    assert segmentations.segmentNames(result) == ["low", "high"]
    assert view.params.outputSegmentation is result and view.params.outputHeatmap is outputs.heatmapNode
    composite = view.scene.GetFirstNodeByClass("vtkMRMLSliceCompositeNode")
    assert composite.GetForegroundVolumeID() == outputs.heatmapNode.GetID()
    assert slicer.util.arrayFromVolume(outputs.heatmapNode).shape == slicer.util.arrayFromVolume(volume).shape
    np.testing.assert_array_equal(mrmlAdapter.ijkToRasArray(outputs.heatmapNode), mrmlAdapter.ijkToRasArray(volume))
    assert [view.params.outputTable.GetCellText(r, 0) for r in range(2)] == testing.CLASS_NAMES
    probability_names = [
        ui.probabilitySegmentComboBox.itemText(i) for i in range(ui.probabilitySegmentComboBox.count())
    ]
    assert probability_names == ["high", "low"] and ui.probabilitySegmentComboBox.isEnabled()
    ui.probabilitySegmentComboBox.setCurrentIndex(1)  # the user picks "low"
    view.parameter_changed()
    assert composite.GetForegroundVolumeID() == outputs.probabilityNodes["low"].GetID()
    assert view.params.outputHeatmap is outputs.probabilityNodes["low"] and ui.saveSegmentationButton.isEnabled()
    path = view.screenshot("5-results")
    if SCREENSHOT:
        Path(SCREENSHOT).write_bytes(path.read_bytes())
    assert not QtGui.QImage(str(path)).isNull()


def test_choices_match_the_module():
    tree = ast.parse(MODULE_SCRIPT.read_text(encoding="utf-8"))
    constants = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.List) and isinstance(node.targets[0], ast.Name)
    }
    assert constants["DEVICES"] == CHOICES["device"] and constants["HEATMAP_METHODS"] == CHOICES["heatmapMethod"]


def test_leaving_the_module_during_a_run_still_loads_the_results(setting_up):
    """The widget's exit() disconnects the parameter node; the job keeps its own and still loads its results."""
    view, volume, _ = setting_up
    view.pick_bundle("tiny_mask_bundle")
    view.choose(inputVolume=volume)
    params = view.params
    view.controller.logic.runOverrides["extraRequest"] = {"testDelaySeconds": 0.5}
    view.click(view.ui.applyButton)
    view.controller.setParams(None)  # exit(): another module is shown
    view.wait_until(lambda: not view.controller.running)
    assert view.controller.outputs is not None and params.outputHeatmap is view.controller.outputs.heatmapNode
    assert not view.controller.job.workDir.exists()  # loaded, then cleaned up


def test_closing_the_scene_during_a_run_keeps_the_result_files(setting_up):
    view, volume, _ = setting_up
    view.pick_bundle("tiny_mask_bundle")
    view.choose(inputVolume=volume)
    view.controller.logic.runOverrides["extraRequest"] = {"testDelaySeconds": 0.5}
    view.click(view.ui.applyButton)
    view.controller.onSceneStartClose()  # the StartCloseEvent observer
    view.wait_until(lambda: not view.controller.running)
    job = view.controller.job
    assert "results are kept in" in view.ui.statusLabel.text() and str(job.workDir) in view.ui.statusLabel.text()
    assert (job.workDir / "output" / "heatmap.nii.gz").is_file()
    job.cleanup()


def test_cleanup_stops_the_timer_and_the_worker(setting_up):
    view, volume, _ = setting_up
    view.pick_bundle("tiny_mask_bundle")
    view.choose(inputVolume=volume)
    view.controller.logic.runOverrides["extraRequest"] = {"testDelaySeconds": 60}
    view.click(view.ui.applyButton)
    view.wait_until(lambda: view.controller.job.progress.stage == "load")
    worker = view.controller.job.worker
    view.controller.cleanup()
    assert not view.timer.isActive()
    worker.wait(timeout=20)
    assert not worker.isRunning()
    view.controller.job.cleanup()


SERIES_SCRIPT = """
import json, sys
from pathlib import Path
import pydicom
from monai_ext.io.dicom.load import load_dicom_series
from monai_ext.io.nifti import save_nifti
save_nifti(load_dicom_series(sys.argv[1]), sys.argv[2], sidecar=False)
headers = {p: pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(Path(sys.argv[1]).iterdir()) if p.is_file()}
first = next(iter(headers.values()))
print(json.dumps({"instances": [[str(ds.SOPInstanceUID), str(p)] for p, ds in headers.items()],
                  "study": str(first.StudyInstanceUID), "series": str(first.SeriesInstanceUID)}))
"""
REFERENCES_SCRIPT = """
import json, sys
from pathlib import Path
import pydicom
def uids(dataset, found):
    for element in dataset:
        if element.VR == "SQ":
            for item in element.value:
                found.update([str(item.SeriesInstanceUID)] if "SeriesInstanceUID" in item else [])
                uids(item, found)
    return found
out = {}
for path in sorted(Path(sys.argv[1]).rglob("*.dcm")):
    ds = pydicom.dcmread(path)
    out[path.name] = {"modality": ds.Modality, "study": ds.StudyInstanceUID, "referenced": sorted(uids(ds, set()))}
print(json.dumps(out))
"""


def main_python_json(python, script, *args):
    """Run ``script`` in the main venv (pydicom, monai_ext) and return its JSON output."""
    env = {"PYTHONPATH": WORKER_PYTHONPATH[0], "PATH": "/usr/bin:/bin"}
    done = subprocess.run([str(python), "-c", script, *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=180, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.realdata
def test_a_user_runs_the_shipped_classifier_sandboxed_on_a_dicom_series(app, scene, tmp_path, mr_t1_sag):
    """The real runner, untrusted (sandboxed worker), on a gland segment of a DICOM-loaded volume, saved as DICOM."""
    python = real_worker_python()
    series = main_python_json(python, SERIES_SCRIPT, mr_t1_sag, tmp_path / "t1.nii.gz")
    instances = series["instances"]
    volume = mrmlAdapter.loadVolumeFile(str(tmp_path / "t1.nii.gz"), "T1 sag", scene=scene)
    volume.SetAttribute("DICOM.instanceUIDs", " ".join(uid for uid, _ in instances))  # as Slicer's DICOM module
    slicer.vtkMRMLSubjectHierarchyNode.ResolveSubjectHierarchy(scene)
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Glands")  # as drawn in Segment Editor
    segmentation.SetReferenceImageGeometryParameterFromVolumeNode(volume)
    shape = slicer.util.arrayFromVolume(volume).shape  # (K, J, I)
    k, j, i = np.meshgrid(*(np.arange(n) - n / 2 for n in shape), indexing="ij")
    spacing = volume.GetSpacing()  # (I, J, K) mm
    for name, radii, shift in (("body", (40.0, 40.0, 40.0), 0.0), ("adrenal_gland_left", (4.0, 12.0, 10.0), 10.0)):
        inside = ((i * spacing[0] - shift) / radii[0]) ** 2 + (j * spacing[1] / radii[1]) ** 2
        mask = (inside + (k * spacing[2] / radii[2]) ** 2 <= 1.0).astype(np.uint8)  # a gland-sized ellipsoid
        assert mask.any(), name
        segment_id = segmentation.GetSegmentation().AddEmptySegment("", name, (0.9, 0.6, 0.2))
        segmentations.setSegmentMask(segmentation, segment_id, mask, volume)
    logic = core.BundleExplorerCore(settings=Settings())
    logic.workerPython, logic.runOverrides = str(python), {"extraPythonPath": WORKER_PYTHONPATH}
    logic.dicomDatabase = SimpleNamespace(isOpen=True, fileForInstance=dict(instances).get)
    imported = tmp_path / "imported"
    logic.importDicomFolder = lambda folder: bool(shutil.copytree(folder, imported))  # Slicer's import copies
    view = Panel(logic, parameter_node(), scene)
    view.pick_bundle("adrenal_hyperplasia_classifier_3d")
    view.choose(inputVolume=volume, inputSegmentation=segmentation, device="cpu", saveDicom=True)
    combo = view.ui.inputSegmentComboBox  # the mask bundle's input: the user picks the gland segment by name
    combo.setCurrentIndex(combo.findText("adrenal_gland_left"))
    view.parameter_changed()
    assert view.params.inputSegmentName == "adrenal_gland_left" and view.params.trustBundle is False
    view.click(view.ui.applyButton)
    view.wait_until(lambda: not view.controller.running, timeout=300)
    status, job = view.ui.statusLabel.text(), view.controller.job
    assert status.startswith("Done.") and "DICOM results imported." in status, (status, job.error)
    assert "heatmap is empty" not in status, status  # else no heatmap SEG: the runner's note would say so
    protections = job.result["protections"]
    assert protections["sandboxed"] is True and job.result["bundle"]["trusted"] is False
    active = len(protections["active"])
    assert f"sandbox: {active}/{len(protections['items'])} protections active" in status
    written = main_python_json(python, REFERENCES_SCRIPT, imported)  # what the worker wrote, then "imported"
    assert {info["modality"] for info in written.values()} >= {"SEG", "SR"}, written
    for name, info in written.items():  # each result belongs to the study and references the source series
        assert info["study"] == series["study"] and series["series"] in info["referenced"], (name, info)
    view.screenshot("6-dicom-sandboxed")
