"""Pure-Python helpers of the module: bundle metadata, locations, result rows and CSV, line parsing."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from MonaiBundleExplorerLib import bundleInfo, locations, results, testing
from MonaiBundleExplorerLib.workerProcess import process


def test_bundle_info_from_folder_and_zip(tiny_bundle, tmp_path):
    archive = tmp_path / "tiny.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in tiny_bundle.rglob("*"):
            zipped.write(path, "tiny_bundle/" + path.relative_to(tiny_bundle).as_posix())
    for source in (tiny_bundle, archive):
        info = bundleInfo.readBundleInfo(source)
        assert info.classNames == testing.CLASS_NAMES
        assert info.licence == "Apache-2.0" and "Self-test" in info.task
    assert bundleInfo.findBundles([tmp_path]) == [archive, tiny_bundle]
    text = bundleInfo.summary(bundleInfo.readBundleInfo(tiny_bundle), trusted=False)
    assert "safe loading" in text and "Licence: Apache-2.0" in text and "Input image" in text


@pytest.mark.parametrize(
    ("folder", "kind", "classes", "metric"),
    [
        ("adrenal_hyperplasia_classifier_3d", "classifier", ["normal", "hyperplasia"], "val_auc"),
        ("adrenal_shape_autoencoder_3d", "image-to-image", [], "val_auroc"),
        ("adrenal_shape_gan_3d", "generator", [], None),
    ],
)
def test_bundle_info_of_the_shipped_bundles(folder, kind, classes, metric):
    from .conftest import REPO

    info = bundleInfo.readBundleInfo(REPO / "bundles" / folder)
    assert info.kind == kind and info.classNames == classes
    assert "CC BY 4.0" in info.dataSource and info.licence
    if metric:
        assert metric in info.metrics
    text = bundleInfo.summary(info, trusted=False)
    assert f"Kind: {kind}" in text and "Training data:" in text and "safe loading" in text


def test_bundle_info_error_is_plain(tmp_path):
    with pytest.raises(ValueError, match="Cannot read the metadata"):
        bundleInfo.readBundleInfo(tmp_path)


def test_probability_rows_and_batch_csv(tmp_path):
    items = [
        {"inputPath": "a.nii", "classNames": ["x", "y"], "probabilities": [0.2, 0.8], "maps": {"heatmap": "a/h.nii"}},
        {"inputPath": "b.nii", "error": {"type": "ValueError", "message": "bad volume"}},
    ]
    assert results.predictedClass(items[0]) == "y"
    assert results.probabilityRows({"probabilities": [0.5, 0.5]}) == [("class 0", 0.5), ("class 1", 0.5)]
    path = results.writeBatchCsv(tmp_path / "out" / "batch.csv", items)
    rows = list(csv.DictReader(path.open()))
    assert [row["status"] for row in rows] == ["ok", "error"]
    assert rows[0]["predicted"] == "y" and rows[0]["map:heatmap"] == "a/h.nii" and rows[1]["error"] == "bad volume"


def test_volume_files_lists_nifti_and_nrrd_only(tmp_path):
    for name in ("b.nii.gz", "a.nrrd", "c.txt", "d.NII"):
        (tmp_path / name).write_text("")
    assert [path.name for path in results.volumeFiles(tmp_path)] == ["a.nrrd", "b.nii.gz", "d.NII"]


@pytest.mark.parametrize("value", [None, "", "  ", ".", Path(), Path(".")])
def test_unset_paths_are_unset(value):
    # An unset pathlib.Path parameter of the parameter node reads as Path('.'), which is truthy.
    assert not locations.isSetPath(value)


def test_set_paths_are_set(tmp_path):
    assert locations.isSetPath(tmp_path) and locations.isSetPath("relative/bundle")


def test_shipped_bundles_and_project_copy_are_found_from_a_checkout():
    from .conftest import MODULE_DIR, REPO

    assert locations.shippedBundleRoots(MODULE_DIR) == [REPO / "bundles"]
    assert locations.projectSource(MODULE_DIR) == REPO
    assert locations.projectVersion(REPO) == "0.1.0"


def test_build_tree_layout_is_preferred(tmp_path):
    """As CMake installs it: the module script beside Resources/Bundles and Resources/monai-ext."""
    module = tmp_path / "lib" / "Slicer-5.10" / "qt-scripted-modules"
    (module / "Resources" / "Bundles" / "b").mkdir(parents=True)
    copy = module / "Resources" / "monai-ext"
    copy.mkdir()
    (copy / "pyproject.toml").write_text('[project]\nname = "monai-ext"\nversion = "9.9"\n\n[tool.x]\nversion = "1"\n')
    assert locations.shippedBundleRoots(module) == [module / "Resources" / "Bundles"]
    assert locations.projectSource(module) == copy and locations.projectVersion(copy) == "9.9"
    (copy / "pyproject.toml").write_text('[project]\nname = "monai-ext-other"\nversion = "1"\n')
    assert locations.projectVersion(copy) is None


class FakeSettings(dict):
    """QSettings' value/setValue."""

    def value(self, key, default=None):
        return self.get(key, default)

    def setValue(self, key, value):  # noqa: N802 (QSettings' name)
        self[key] = value


def test_path_settings_round_trip(tmp_path):
    settings = FakeSettings()
    assert locations.readPathSetting(settings, locations.USER_BUNDLE_FOLDER) is None
    locations.writePathSetting(settings, locations.USER_BUNDLE_FOLDER, tmp_path)
    assert locations.readPathSetting(settings, locations.USER_BUNDLE_FOLDER) == tmp_path
    locations.writePathSetting(settings, locations.USER_BUNDLE_FOLDER, Path())
    assert locations.readPathSetting(settings, locations.USER_BUNDLE_FOLDER) is None


def test_mask_bundles_are_recognised(tmp_path):
    assert bundleInfo.readBundleInfo(testing.writeTinyBundle(tmp_path / "mask", maskInput=True)).takesMask
    assert not bundleInfo.readBundleInfo(testing.writeTinyBundle(tmp_path / "plain")).takesMask
    from .conftest import REPO

    assert bundleInfo.readBundleInfo(REPO / "bundles" / "adrenal_hyperplasia_classifier_3d").takesMask


def test_segmentation_bundles_list_their_segments(tmp_path):
    info = bundleInfo.readBundleInfo(testing.writeTinyBundle(tmp_path / "mask", maskInput=True))
    assert info.segmentNames == ["low", "high"] and info.kind == "classifier"  # it has class probabilities too
    text = bundleInfo.summary(info, trusted=False)
    assert "Segments: low, high" in text and "Input: a mask" in text
    zoo = {"seg": {"type": "segmentation", "channel_def": {"0": "background", "1": "spleen", "2": "liver"}}}
    assert bundleInfo.segmentLabelNames(zoo) == ["spleen", "liver"]
    assert bundleInfo.bundleKind({"outputs": zoo}) == "segmentation"


def test_batch_csv_has_segment_volumes(tmp_path):
    items = [
        {
            "inputPath": "a.nii",
            "segmentations": {
                "seg": {
                    "labels": [
                        {"value": 1, "name": "liver", "volume_mm3": 1500.5},
                        {"value": 2, "name": "spleen", "volume_mm3": 0.0},
                    ]
                }
            },
        }
    ]
    header, rows = results.batchRows(items)
    assert header[3:5] == ["mm3:seg:liver", "mm3:seg:spleen"]
    assert rows[0]["mm3:seg:liver"] == "1500.5" and rows[0]["mm3:seg:spleen"] == "0"


def test_segment_probability_maps_are_named_and_unique():
    result = {
        "segmentations": {
            "a": {"labels": [{"value": 1, "name": "liver", "probability_map": "/p/a1.nii.gz"}, {"value": 2}]},
            "b": {"labels": [{"value": 1, "name": "liver", "probability_map": "/p/b1.nii.gz"}]},
        }
    }
    assert results.segmentProbabilityMaps(result) == {"liver": "/p/a1.nii.gz", "b: liver": "/p/b1.nii.gz"}
    assert results.segmentProbabilityMaps({}) == {}


def test_parse_line_types():
    assert process.parseLine('{"stage": "infer", "fraction": 1.7, "message": "m"}') == process.ProgressEvent(
        "infer", 1.0, "m"
    )
    assert process.parseLine('{"result": {"a": 1}}') == process.ResultEvent({"a": 1})
    assert process.parseLine('{"error": {"type": "T", "message": "m"}}') == process.ErrorEvent("T", "m", "")
    assert process.parseLine("plain text") == process.LogEvent("plain text")
    assert process.parseLine('{"stage": "x", "fraction": "nan?"}').fraction == 0.0


@given(st.text())
def test_parse_line_never_raises(text):
    event = process.parseLine(text)
    assert type(event).__name__ in {"ProgressEvent", "ResultEvent", "ErrorEvent", "LogEvent"}


@given(
    st.dictionaries(
        st.sampled_from(["stage", "fraction", "message", "result", "error"]), st.none() | st.floats() | st.text()
    )
)
def test_parse_line_of_json_objects_never_raises(payload):
    process.parseLine(json.dumps(payload))


def _protections(active: dict, detail: str = "enforced") -> dict:
    return {"sandboxed": True, "items": {name: {"active": on, "detail": detail} for name, on in active.items()}}


def test_protections_summary_counts_and_names_what_is_off():
    names = ["landlock_filesystem", "landlock_network", "seccomp", "resource_limits"]
    every = _protections(dict.fromkeys(names, True))
    assert results.protectionsSummary({"protections": every}) == "sandbox: 4/4 protections active"
    some = _protections({**dict.fromkeys(names, True), "landlock_network": False, "seccomp": False})
    assert results.protectionsSummary({"protections": some}) == (
        "sandbox: 2/4 protections active (off: landlock_network, seccomp)"
    )
    trusted = _protections(dict.fromkeys(names, False), detail="no sandbox was applied in this process")
    expected = "sandbox: off (no sandbox was applied in this process)"
    assert results.protectionsSummary({"protections": trusted}) == expected
    batch = {"items": [{"error": {"message": "bad file"}}, {"protections": every}]}
    assert results.protectionsSummary(batch) == "sandbox: 4/4 protections active"
    assert results.protectionsSummary({"classNames": []}) == "" and results.protectionsSummary({}) == ""


def test_warnings_summary_is_one_line_without_repeats():
    empty = "the gradcam heatmap is empty: no region adds evidence for the explained class"
    result = {"warnings": [empty, empty, "line one\n  line two", "x" * 500, "fourth", ""]}
    line = results.warningsSummary(result)
    assert line.startswith("note: " + empty + "; line one line two; " + "x" * 297 + "...")
    assert line.endswith(" (and 1 more in result.json)") and "\n" not in line and line.count(empty) == 1
    assert results.warningsSummary({"warnings": [empty]}) == "note: " + empty
    for nothing in ({}, {"warnings": []}, {"warnings": "not a list"}, None):
        assert results.warningsSummary(nothing) == ""


def test_the_heatmap_node_names_the_method_that_made_the_map():
    """After an empty Grad-CAM map the runner may use its fallback: the node must not pass for a Grad-CAM map."""
    assert results.heatmapNodeName({"heatmap_method": "occlusion"}, "CT left") == "CT left occlusion heatmap"
    assert results.heatmapNodeName({"heatmap_method": "gradcam"}, "CT left") == "CT left gradcam heatmap"
    assert results.heatmapNodeName({}, "mask") == "mask heatmap"  # a runner that reports no method
    assert results.heatmapNodeName({"heatmap_method": None}, "mask") == "mask heatmap"
    assert results.heatmapNodeName({"heatmap_method": "occlusion"}, "mask", "anomaly_map") == "mask heatmap"


def test_the_batch_csv_has_a_method_column_only_when_the_runner_reports_one(tmp_path):
    items = [
        {"inputPath": "a.nii", "classNames": ["x", "y"], "probabilities": [0.2, 0.8], "heatmap_method": "gradcam"},
        {"inputPath": "b.nii", "classNames": ["x", "y"], "probabilities": [0.6, 0.4], "heatmap_method": "occlusion"},
        {"inputPath": "c.nii", "error": {"type": "ValueError", "message": "bad volume"}},
    ]
    rows = list(csv.DictReader(results.writeBatchCsv(tmp_path / "batch.csv", items).open()))
    assert [row["heatmap_method"] for row in rows] == ["gradcam", "occlusion", ""]
    header, _ = results.batchRows([{"inputPath": "a.nii", "probabilities": [1.0]}])
    assert "heatmap_method" not in header
