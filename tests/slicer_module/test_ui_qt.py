"""The module panel in real Qt (PySide6, offscreen): loads cleanly, names match the code, renders to a PNG."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET

import pytest

from .conftest import ARTIFACTS, MODULE_DIR, UI_FILE
from .module_source import module_tree, parameter_fields, top_level_imports, ui_names_used

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported: without a display Qt aborts
QtCore = pytest.importorskip("PySide6.QtCore", reason="PySide6 is not installed (pip install PySide6-Essentials)")
from PySide6 import QtGui, QtUiTools, QtWidgets  # noqa: E402

# Slicer and CTK classes are not in PySide6: the loader substitutes their <extends> class and says so.
# A fallback QWidget cannot read ctkPathLineEdit's "filters" enum set either (Slicer's CTK can).
EXPECTED_FALLBACK = re.compile(
    r"unable to create a custom widget of the class '(ctk|qMRML)\w+'; defaulting to base class"
    r"|The set-type property filters could not be read"
)
# Fields the panel controller sets itself (their combo boxes list segment names known only at run time).
CONTROLLER_FIELDS = {"inputSegmentName", "probabilitySegment"}
NODE_FIELD_WIDGET = "qMRMLNodeComboBox"


@pytest.fixture(scope="module")
def loaded():
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    messages: list[str] = []
    previous = QtCore.qInstallMessageHandler(lambda kind, context, text: messages.append(text))
    try:
        ui_file = QtCore.QFile(str(UI_FILE))
        assert ui_file.open(QtCore.QIODevice.OpenModeFlag.ReadOnly)
        loader = QtUiTools.QUiLoader()
        widget = loader.load(ui_file)
        ui_file.close()
        app.processEvents()
    finally:
        QtCore.qInstallMessageHandler(previous)
    assert widget is not None, loader.errorString()
    yield widget, messages, loader.errorString()
    widget.deleteLater()


def ui_widgets() -> dict[str, ET.Element]:
    return {element.get("name"): element for element in ET.parse(UI_FILE).iter("widget")}


def parameter_bindings() -> dict[str, ET.Element]:
    bindings = {}
    for element in ui_widgets().values():
        for prop in element.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                bindings[prop.findtext("string")] = element
    return bindings


def test_ui_loads_without_unexpected_messages(loaded):
    widget, messages, error = loaded
    assert error == ""
    unexpected = [text for text in messages if not EXPECTED_FALLBACK.search(text)]
    assert unexpected == [], unexpected
    assert widget.objectName() == "MonaiBundleExplorer"


def test_every_widget_the_code_uses_exists(loaded):
    widget, _, _ = loaded
    import ast

    controller = ast.parse((MODULE_DIR / "MonaiBundleExplorerLib" / "panel.py").read_text(encoding="utf-8"))
    used = ui_names_used(module_tree()) | ui_names_used(controller)
    assert {"applyButton", "progressBar", "statusLabel", "detailsTextEdit", "inputSegmentComboBox"} <= used
    missing = sorted(name for name in used if widget.findChild(QtCore.QObject, name) is None)
    assert missing == []


def test_parameter_names_match_the_parameter_node_fields():
    fields = parameter_fields(module_tree())
    bindings = parameter_bindings()
    assert set(fields) >= CONTROLLER_FIELDS
    fields = {name: annotation for name, annotation in fields.items() if name not in CONTROLLER_FIELDS}
    assert sorted(bindings) == sorted(fields), "every field bound once, and no binding without a field"
    for name, annotation in fields.items():
        widget_class = bindings[name].get("class")
        if annotation.startswith("vtkMRML"):
            assert widget_class == NODE_FIELD_WIDGET
            node_types = [s.text for s in bindings[name].find("property[@name='nodeTypes']/stringlist")]
            assert node_types == [annotation]
        elif "Choice(" in annotation:
            assert widget_class == "QComboBox"
        elif "WithinRange(" in annotation:
            assert widget_class == "ctkSliderWidget"
        elif annotation == "pathlib.Path":
            assert widget_class == "ctkPathLineEdit"
        elif annotation == "bool":
            assert widget_class == "QCheckBox"


def test_module_script_imports_no_heavy_dependency_at_import_time():
    # Dependencies are installed on first Apply: importing the module must not need them.
    assert top_level_imports(module_tree()) <= {
        "os",
        "pathlib",
        "shutil",
        "tempfile",
        "typing",
        "qt",
        "slicer",
        "vtk",
        "MonaiBundleExplorerLib",
    }


def test_path_fields_can_be_browsed():
    """Every ctkPathLineEdit says what it browses for (without filters its browse button finds nothing)."""
    expected = {
        "bundlePathLineEdit": {"Dirs", "Files"},
        "batchFolderPathLineEdit": {"Dirs"},
        "batchCsvPathLineEdit": {"Files", "Writable"},
        "userBundleFolderPathLineEdit": {"Dirs"},
        "workerPythonPathLineEdit": {"Files", "Executable"},
    }
    found = {}
    for name, element in ui_widgets().items():
        if element.get("class") == "ctkPathLineEdit":
            text = element.findtext("property[@name='filters']/set") or ""
            found[name] = {flag.replace("ctkPathLineEdit::", "") for flag in text.split("|") if flag}
    assert set(found) == set(expected)
    for name, flags in expected.items():
        assert flags <= found[name], name


def test_result_selectors_only_show_results():
    """Results are always new nodes: their selectors are display-only (no choosing, adding or renaming)."""
    for name in ("outputHeatmapSelector", "outputTableSelector", "outputSegmentationSelector"):
        element = ui_widgets()[name]
        values = {prop.get("name"): prop.findtext("bool") for prop in element.findall("property")}
        assert values["enabled"] == "false" and values["addEnabled"] == "false", name
        assert values["renameEnabled"] == "false" and values["removeEnabled"] == "false", name


def test_panel_renders_to_png(loaded):
    widget, _, _ = loaded
    widget.resize(400, 900)
    widget.show()
    QtWidgets.QApplication.processEvents()
    image = widget.grab().toImage()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "panel.png"
    assert image.save(str(path))
    colours = {image.pixel(x, y) for x in range(0, image.width(), 4) for y in range(0, image.height(), 4)}
    assert len(colours) > 8, "the rendered panel is blank"
    assert QtGui.QImage(str(path)).size() == image.size()
