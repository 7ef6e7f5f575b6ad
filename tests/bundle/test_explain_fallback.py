"""The config key ``explain_fallback``: an empty Grad-CAM map replaced by the occlusion map, recorded as such in
``result.json``; the key is checked like any value a stranger's bundle sets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from monai_ext.bundle import BundleError, BundleRunner
from monai_ext.bundle.errors import BundleConfigError
from monai_ext.bundle.outputs.write import write_outputs
from monai_ext.data.npz import load_npz_split
from monai_ext.explain.map_quality.localisation import mass_near_mask
from tests.bundle.conftest import CLASSIFIER, with_value
from tests.conftest import require_data


def with_fallback(bundle: Path, value: Any) -> Path:
    return with_value(bundle, "explain_fallback", value)


@pytest.mark.parametrize("value", ["gradcam", "OCCLUSION", 1, ["occlusion"], {"_target_": "os.getcwd"}, "o" * 5000])
def test_values_other_than_occlusion_are_refused_naming_the_key(classifier_copy: Path, value: Any) -> None:
    with pytest.raises(BundleError) as err:
        BundleRunner(with_fallback(classifier_copy, value), device="cpu")
    assert "explain_fallback" in str(err.value)
    assert len(str(err.value)) < 600


def test_an_expression_cannot_choose_the_fallback(classifier_copy: Path) -> None:
    with pytest.raises(BundleError):
        BundleRunner(with_fallback(classifier_copy, "$__import__('os').getcwd()"), device="cpu")


def test_a_bad_value_is_a_config_error_with_the_file(classifier_copy: Path) -> None:
    message = r"'explain_fallback': 'smoothgrad' is not one of \['occlusion'\]"
    with pytest.raises(BundleConfigError, match=message) as err:
        BundleRunner(with_fallback(classifier_copy, "smoothgrad"), device="cpu")
    assert "inference.json" in str(err.value)


def test_the_shipped_classifier_falls_back_to_occlusion_and_null_or_an_override_turns_it_off(
    classifier_copy: Path,
) -> None:
    assert BundleRunner(CLASSIFIER, device="cpu").explain_fallback == "occlusion"
    assert BundleRunner(CLASSIFIER, device="cpu", overrides={"explain_fallback": None}).explain_fallback is None
    assert BundleRunner(with_fallback(classifier_copy, None), device="cpu").explain_fallback is None


@pytest.mark.realdata
def test_an_empty_gradcam_map_becomes_the_occlusion_map_and_result_json_says_so(tmp_path: Path) -> None:
    """Val gland 0: Grad-CAM against the empty cube finds nothing; occlusion puts the map on the gland, and the
    method recorded is the one that made it. Gland 1 keeps its Grad-CAM map and no fallback runs."""
    images, _ = load_npz_split(require_data("medmnist3d/adrenalmnist3d_64_trainval.npz"), "val")
    masks = (images[:2] > 127).astype(np.float32)
    runner = BundleRunner(CLASSIFIER, device="cpu")
    fallen = runner.run((masks[0], np.eye(4)))
    assert fallen.heatmap_method == "occlusion" and "heatmap_fallback" in fallen.timings
    assert fallen.warnings[0].startswith("the gradcam heatmap is empty")
    assert "the heatmap is the occlusion map instead (the bundle's explain_fallback)" in fallen.warnings
    heatmap = fallen.maps["heatmap"].as_tensor()[0].numpy()
    assert float(heatmap.max()) == pytest.approx(1.0)
    assert mass_near_mask(heatmap, masks[0], (1.0, 1.0, 1.0)) >= 0.8
    summary = write_outputs(fallen, tmp_path / "out", bundle=runner.bundle, montage=False)
    written = json.loads((tmp_path / "out" / "result.json").read_text())
    assert summary["heatmap_method"] == written["heatmap_method"] == "occlusion"
    assert written["warnings"] == fallen.warnings
    kept = runner.run((masks[1], np.eye(4)))
    assert kept.heatmap_method == "gradcam" and "heatmap_fallback" not in kept.timings
    assert not any("instead" in warning for warning in kept.warnings)


def test_a_bundle_without_a_heatmap_records_no_method(tmp_path: Path) -> None:
    from tests.bundle.conftest import REPO

    runner = BundleRunner(REPO / "bundles" / "adrenal_shape_autoencoder_3d", device="cpu")
    mask = np.zeros((64, 64, 64), np.float32)
    mask[24:40, 20:44, 26:38] = 1
    result = runner.run((mask, np.eye(4)))
    assert result.heatmap_method is None
    assert write_outputs(result, tmp_path / "out", bundle=runner.bundle, montage=False)["heatmap_method"] is None


@pytest.mark.realdata
def test_the_cli_override_keeps_the_empty_gradcam_map(tmp_path: Path) -> None:
    """``--override explain_fallback=null``: the empty map stays, named as Grad-CAM's, with its warning."""
    import nibabel as nib

    from monai_ext.cli.main import main

    images, _ = load_npz_split(require_data("medmnist3d/adrenalmnist3d_64_trainval.npz"), "val")
    path = tmp_path / "gland0.nii.gz"
    nib.save(nib.Nifti1Image((images[0] > 127).astype(np.uint8), np.eye(4)), path)
    out = tmp_path / "out"
    args = ["infer", str(path), "--bundle", str(CLASSIFIER), "--out", str(out), "--no-montage"]
    assert main([*args, "--override", "explain_fallback=null"]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["heatmap_method"] == "gradcam"
    assert nib.load(result["maps"]["heatmap"]).get_fdata().max() == 0.0
    assert any("gradcam heatmap is empty" in w for w in result["warnings"])
    assert not any("instead" in w for w in result["warnings"])
