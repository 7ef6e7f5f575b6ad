"""The config key ``explain_baseline``: the classifier's Grad-CAM relative to an empty cube, checked like any value
a stranger's bundle sets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from monai_ext.bundle import BundleError, BundleRunner
from monai_ext.bundle.errors import BundleConfigError
from monai_ext.data.npz import load_npz_split
from monai_ext.explain.map_quality.localisation import mass_near_mask
from tests.bundle.conftest import CLASSIFIER, ellipsoid_mask, with_value
from tests.conftest import require_data


def with_baseline(bundle: Path, value: Any) -> Path:
    return with_value(bundle, "explain_baseline", value)


@pytest.mark.parametrize("value", ["ones", "ZEROS", 0, ["zeros"], {"_target_": "torch.zeros"}, "x" * 5000])
def test_values_other_than_zeros_are_refused_naming_the_key(classifier_copy: Path, value: Any) -> None:
    with pytest.raises(BundleError) as err:
        BundleRunner(with_baseline(classifier_copy, value), device="cpu")
    assert "explain_baseline" in str(err.value)  # a _target_ is refused by the policy, naming the key too
    assert len(str(err.value)) < 600


def test_an_expression_cannot_build_the_baseline(classifier_copy: Path) -> None:
    with pytest.raises(BundleError):
        BundleRunner(with_baseline(classifier_copy, "$__import__('os').getcwd()"), device="cpu")


def test_the_shipped_classifier_explains_against_an_empty_cube_and_null_turns_it_off(classifier_copy: Path) -> None:
    assert BundleRunner(CLASSIFIER, device="cpu").explain_baseline == "zeros"
    plain = BundleRunner(with_baseline(classifier_copy, None), device="cpu")
    assert plain.explain_baseline is None
    gland = ellipsoid_mask((64, 64, 64), (6.0, 14.0, 10.0))
    result = plain.run((gland, np.eye(4)))
    assert float(result.maps["heatmap"].max()) == pytest.approx(1.0)


def test_a_bad_value_is_a_config_error_with_the_file(classifier_copy: Path) -> None:
    with pytest.raises(BundleConfigError, match=r"'explain_baseline': 'ones' is not one of \['zeros'\]") as err:
        BundleRunner(with_baseline(classifier_copy, "ones"), device="cpu")
    assert "inference.json" in str(err.value)


@pytest.mark.realdata
def test_val_glands_whose_score_nothing_raises_get_an_empty_map_and_a_warning(classifier_copy: Path) -> None:
    """Val gland 0 (p = 0.55): plain Grad-CAM lights the empty cube around it (mass within 5 mm 0.001); against
    the empty cube nothing in it raises the score, and the runner says so. Gland 1 keeps its map on the gland."""
    images, _ = load_npz_split(require_data("medmnist3d/adrenalmnist3d_64_trainval.npz"), "val")
    masks = (images[:2] > 127).astype(np.float32)
    shipped = BundleRunner(CLASSIFIER, device="cpu", overrides={"explain_fallback": None})  # no occlusion instead
    plain = BundleRunner(with_baseline(classifier_copy, None), device="cpu")
    empty = shipped.run((masks[0], np.eye(4)))
    assert empty.heatmap_method == "gradcam"
    assert float(empty.maps["heatmap"].max()) == 0.0
    assert any("heatmap is empty" in w and "compared with an empty input" in w for w in empty.warnings)
    inverted = plain.run((masks[0], np.eye(4))).maps["heatmap"].as_tensor()[0].numpy()
    assert mass_near_mask(inverted, masks[0], (1.0, 1.0, 1.0)) < 0.05
    on_gland = shipped.run((masks[1], np.eye(4)))
    assert mass_near_mask(on_gland.maps["heatmap"].as_tensor()[0].numpy(), masks[1], (1.0, 1.0, 1.0)) >= 0.8
    assert not any("heatmap is empty" in w for w in on_gland.warnings)


def test_the_empty_map_warning_says_what_each_method_measures(classifier_copy: Path) -> None:
    gradcam = BundleRunner(CLASSIFIER, device="cpu")._empty_heatmap_warning()
    assert "compared with an empty input" in gradcam and "linear estimate" in gradcam
    plain = BundleRunner(with_baseline(classifier_copy, None), device="cpu")._empty_heatmap_warning()
    assert "empty input" not in plain and "linear estimate" in plain
    occlusion = BundleRunner(CLASSIFIER, device="cpu", heatmap="occlusion")._empty_heatmap_warning()
    assert occlusion.startswith("the occlusion heatmap is empty") and "linear" not in occlusion
