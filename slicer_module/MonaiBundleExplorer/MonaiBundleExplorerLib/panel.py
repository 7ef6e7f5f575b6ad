"""What the panel does when the user clicks: shared by the Slicer widget and the CI walkthrough (PySide6).

Only Qt calls that PythonQt (Slicer) and PySide6 both offer are used (``setText``, ``setEnabled``, ``setVisible``,
``setValue``, ``setPlainText``, ``setProperty``, combo box items). The parameter node is bound to the widgets by
Slicer (``connectGui``); this controller handles what the binding cannot: the bundle list, segment names, the run
(Apply / progress / Cancel), results and errors.

A run keeps the parameter node it was started with, so switching to another module during a run still loads its
results; closing the scene during a run keeps the result files and says where they are.
"""

from __future__ import annotations

from pathlib import Path

from . import locations, pipeline, results
from .scene import mrmlAdapter, segmentations

try:
    from slicer.i18n import tr as _
except ImportError:  # slicer-core has no translation layer

    def _(text):
        return text


def qtValue(attribute):
    """A Qt property read the same way in both bindings (PythonQt: a value; PySide6: a getter method)."""
    return attribute() if callable(attribute) else attribute


class PanelController:
    def __init__(self, ui, logic, timer, prepareWorker=None):
        self.ui = ui
        self.logic = logic
        self.timer = timer  # QTimer (PythonQt or PySide6) calling tick()
        self.prepareWorker = prepareWorker or (lambda: True)  # Slicer: the worker environment dialog
        self.params = None
        self.job = None
        self.jobParams = None  # the parameter node of the running job (kept when the module is left)
        self.sceneClosedDuringRun = False
        self.outputs = None  # the last loaded results
        self._shownOpacity = None

    # State -----------------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.job is not None and not self.job.done

    def setParams(self, params) -> None:
        self.params = params
        if params is not None:
            self.refresh()

    def fillBundleList(self) -> None:
        combo = self.ui.bundleComboBox
        combo.clear()
        combo.addItem(_("(choose a bundle or type a path below)"), "")
        for path in self.logic.availableBundles():
            combo.addItem(path.name, str(path))

    def onBundlePicked(self, index: int) -> None:
        path = self.ui.bundleComboBox.itemData(index)
        if path and self.params is not None:
            self.params.bundlePath = Path(path)

    def refresh(self) -> None:
        """Enable what can be used now, show the bundle summary and the segment names."""
        params = self.params
        if params is None:
            return
        takesMask = self.logic.bundleTakesMask(params.bundlePath)
        hasInput = bool(params.inputVolume) or (takesMask and bool(params.inputSegmentName))
        self.ui.applyButton.setEnabled(self.running or (locations.isSetPath(params.bundlePath) and hasInput))
        self.ui.batchRunButton.setEnabled(not self.running and locations.isSetPath(params.bundlePath))
        self.ui.saveSegmentationButton.setEnabled(bool(params.outputHeatmap))
        self.ui.bundleInfoText.setPlainText(self.logic.describeBundle(params.bundlePath, params.trustBundle))
        for widget in (self.ui.inputSegmentationSelector, self.ui.inputSegmentComboBox):
            widget.setEnabled(takesMask)
        segmentNames = segmentations.segmentNames(params.inputSegmentation)
        self._fillCombo(self.ui.inputSegmentComboBox, segmentNames, params.inputSegmentName)
        if params.inputSegmentName not in segmentNames:  # a new segmentation, or none: its first segment
            first = segmentNames[0] if segmentNames else ""
            if params.inputSegmentName != first:
                params.inputSegmentName = first
        names = sorted(self.outputs.probabilityNodes) if self.outputs is not None else []
        self._fillCombo(self.ui.probabilitySegmentComboBox, names, params.probabilitySegment)
        self.ui.probabilitySegmentComboBox.setEnabled(bool(names))

    def onParameterChanged(self) -> None:
        self.refresh()
        params = self.params
        if params is not None and params.outputHeatmap:
            mrmlAdapter.updateHeatmapDisplay(params.outputHeatmap, params.threshold, params.colorMap)
            if params.opacity != self._shownOpacity:  # only the heatmap's views, only when opacity changed
                mrmlAdapter.setForegroundOpacity(params.outputHeatmap.GetScene(), params.opacity, params.outputHeatmap)
                self._shownOpacity = params.opacity

    def onSegmentPicked(self, text: str) -> None:
        if self.params is not None and text and text != self.params.inputSegmentName:
            self.params.inputSegmentName = text

    def onProbabilitySegmentPicked(self, text: str) -> None:
        if self.params is None or not text or self.outputs is None or text not in self.outputs.probabilityNodes:
            return
        self.params.probabilitySegment = text
        self.logic.showProbability(self.outputs, text, self.params)
        self.refresh()

    # Runs ------------------------------------------------------------------------------------------------------
    def onApply(self) -> None:
        if self.running:
            self.job.cancel()
            self.ui.statusLabel.setText(_("Cancelling..."))
            return
        if not self.prepareWorker():
            self.ui.statusLabel.setText(_("The worker environment is not ready: not started."))
            return
        self.startJob(self.logic.startInference(self.params))

    def onBatch(self) -> None:
        if self.running:
            return
        if self.prepareWorker():
            self.startJob(self.logic.startBatch(self.params))

    def startJob(self, job) -> None:
        self.job, self.jobParams, self.sceneClosedDuringRun = job, self.params, False
        self.ui.applyButton.setText(_("Cancel"))
        self.ui.applyButton.setEnabled(True)
        self.ui.progressBar.setVisible(True)
        self.ui.progressBar.setValue(0)
        self.ui.statusLabel.setText(_("Starting..."))
        self.ui.detailsTextEdit.setPlainText("")
        self.timer.start()

    def tick(self) -> None:
        """Called by the timer: progress, then results or the error once the worker has exited."""
        if self.job is None:
            self.timer.stop()
            return
        self.job.poll()
        self.ui.progressBar.setValue(int(100 * self.job.progress.fraction))
        if self.job.progress.message:
            self.ui.statusLabel.setText(self.job.progress.message)
        if self.job.done:
            self.finish()

    def finish(self) -> None:
        self.timer.stop()
        job, params = self.job, self.jobParams
        self.ui.applyButton.setText(_("Apply"))
        self.ui.progressBar.setVisible(False)
        keepFiles = False
        if job.error is not None:
            self.showError(job.error)
        elif self.sceneClosedDuringRun:
            keepFiles = True
            self.ui.statusLabel.setText(
                _("The scene was closed during the run; the results are kept in {folder}").format(folder=job.workDir)
            )
        else:
            try:
                self.outputs = self.logic.loadResults(job, params)
                self.ui.statusLabel.setText(self.doneMessage(self.outputs, job))
            except Exception as exc:  # keep the files so nothing is lost, and say where they are
                keepFiles = True
                self.ui.statusLabel.setText(
                    _("Could not load the results ({folder} is kept).").format(folder=job.workDir)
                )
                self.ui.detailsTextEdit.setPlainText(f"{type(exc).__name__}: {exc}")
                self.ui.detailsCollapsibleButton.setProperty("collapsed", False)
        if isinstance(job, pipeline.InferenceJob) and not keepFiles:
            job.cleanup()
        self.jobParams = None
        self.refresh()

    def doneMessage(self, outputs, job=None) -> str:
        """ "Done.", segment counts, what became of the DICOM results, the runner's warnings and the worker's sandbox
        in one line."""
        parts = [_("Done.")]
        if isinstance(outputs, pipeline.LoadedOutputs):
            for node in outputs.segmentationNodes.values():
                count = node.GetSegmentation().GetNumberOfSegments()
                parts.append(_("{name}: {count} segments.").format(name=node.GetName(), count=count))
            if outputs.dicomFolder:
                imported = outputs.dicomImported
                parts.append(_("DICOM results imported.") if imported else _("DICOM results not imported."))
            notes = [outputs.dicomNote, outputs.warnings, outputs.protections]
        elif job is not None:  # a batch: its table node
            notes = [job.options.dicomNote, results.protectionsSummary(job.result)]
        else:
            notes = []
        parts += [note if note.endswith(".") else note + "." for note in notes if note]
        return " ".join(parts)

    def showError(self, error) -> None:
        if error.type == "Cancelled":
            self.ui.statusLabel.setText(_("Cancelled. The scene is unchanged."))
        else:
            self.ui.statusLabel.setText(_("Failed: {message}").format(message=error.message))
            self.ui.detailsCollapsibleButton.setProperty("collapsed", False)
        self.ui.detailsTextEdit.setPlainText(f"{error.type}: {error.message}\n\n{error.details}")

    def onSceneStartClose(self) -> None:
        if self.running:
            self.sceneClosedDuringRun = True
        self.outputs = None

    def onSaveSegmentation(self) -> None:
        params = self.params
        self.logic.saveHeatmapAsSegmentation(params.outputHeatmap, params.threshold)

    def cleanup(self) -> None:
        """Module cleanup (Slicer closes or reloads the module): stop the timer and the worker."""
        self.timer.stop()
        if self.running:
            self.job.cancel()

    @staticmethod
    def _fillCombo(combo, names, current) -> None:
        if [combo.itemText(index) for index in range(qtValue(combo.count))] != list(names):
            wasBlocked = combo.blockSignals(True)
            combo.clear()
            for name in names:
                combo.addItem(name)
            combo.blockSignals(wasBlocked)
        if current in names:
            combo.setCurrentIndex(list(names).index(current))
