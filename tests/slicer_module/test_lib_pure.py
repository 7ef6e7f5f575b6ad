"""Pure-Python helpers of the module: bundle metadata, result rows and CSV, requirements, line parsing."""

from __future__ import annotations

import csv
import json
import zipfile

import pytest
from hypothesis import given
from hypothesis import strategies as st
from MonaiBundleExplorerLib import bundleInfo, dependencies, process, results, testing


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


def test_requirements_parsing(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("# comment\nnumpy>=1.26  # inline\n\nmonai[nibabel]>=1.6\nno-such-distribution-xyz==1\n")
    requirements = dependencies.readRequirements(path)
    assert requirements == ["numpy>=1.26", "monai[nibabel]>=1.6", "no-such-distribution-xyz==1"]
    assert dependencies.distributionName("monai[nibabel]>=1.6") == "monai"
    assert dependencies.missingRequirements(requirements) == ["no-such-distribution-xyz==1"]
    assert dependencies.readRequirements()  # the shipped Resources/requirements.txt parses


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
