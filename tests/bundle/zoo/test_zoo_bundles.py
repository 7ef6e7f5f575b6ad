"""The six MONAI Model Zoo bundles of ``../shared/zoo``, unchanged, through the runner on real CT/MR.

Each runs with its network's own random weights; the outputs must lie on the input's grid and affine and follow
the segmentation contract. Spleen is also checked voxel by voxel against MONAI's own ``python -m monai.bundle run``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from monai_ext.bundle import BundleError, BundleRunner, UntrustedCodeError
from monai_ext.bundle.outputs.write import write_outputs
from monai_ext.bundle.untrusted.safe_expr import UnsafeExpressionError, check_expression
from monai_ext.bundle.zoo import BundleCodeNeedsTrustError, UnsupportedBundleError
from tests.bundle.zoo.conftest import zoo_copy
from tests.conftest import require_data

pytestmark = pytest.mark.realdata


def _admits_zoo_constants() -> bool:
    try:
        check_expression("monai.utils.CommonKeys.IMAGE")
    except UnsafeExpressionError:
        return False
    return True


needs_zoo_expressions = pytest.mark.skipif(
    not _admits_zoo_constants(), reason="the safe evaluator does not admit monai.utils.CommonKeys yet (issue 12)"
)


def _run(runner: BundleRunner, source: object, out: Path) -> dict:
    result = runner.run(source)  # type: ignore[arg-type]
    return write_outputs(result, out, bundle=runner.bundle, montage=False)


def _check_on_input_grid(summary: dict, reference: Path, *, channels: int | None = None) -> np.ndarray:
    """The label map has the input's shape and affine and the contract's dtype; returns it."""
    expected = nib.load(reference)
    segmentation = summary["segmentations"]["pred"]
    written = nib.load(segmentation["path"])
    shape = expected.shape[:3] if channels is None else (*expected.shape[:3], channels)
    assert written.shape == shape
    np.testing.assert_allclose(written.affine, expected.affine, atol=1e-4)
    array = np.asanyarray(written.dataobj)
    assert array.dtype == np.uint8
    for label in segmentation["labels"]:
        if label["probability_map"]:
            probability = nib.load(label["probability_map"])
            assert probability.shape == expected.shape[:3]
            np.testing.assert_allclose(probability.affine, expected.affine, atol=1e-4)
            assert label["probability_map"] in summary["maps"].values()
    return array


def test_spleen_untrusted_matches_monai_bundle_run(tmp_path: Path, ct_crop: Path) -> None:
    """Same label map and affine as MONAI's own run of the same config on the same file (Invertd round trip)."""
    bundle = zoo_copy("spleen_ct_segmentation", tmp_path / "spleen")
    runner = BundleRunner(bundle, device="cpu", explain_segmentation=True)
    assert not runner.bundle.trusted
    summary = _run(runner, ct_crop, tmp_path / "ours")
    ours = _check_on_input_grid(summary, ct_crop)
    command = [
        sys.executable, "-m", "monai.bundle", "run",
        "--config_file", str(bundle / "configs" / "inference.json"),
        "--meta_file", str(bundle / "configs" / "metadata.json"),
        "--bundle_root", str(bundle),
        "--datalist", json.dumps([str(ct_crop)]),
        "--output_dir", str(tmp_path / "monai"),
        "--dataloader#num_workers", "0",
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    reference = nib.load(tmp_path / "monai" / "ct_crop" / "ct_crop_trans.nii.gz")
    theirs = np.asanyarray(reference.dataobj).squeeze().round().astype(np.uint8)
    np.testing.assert_allclose(reference.affine, nib.load(summary["segmentations"]["pred"]["path"]).affine, atol=1e-5)
    assert 0.05 < float((theirs == 1).mean()) < 0.95  # a non-trivial map, so agreement means something
    assert float((ours == theirs).mean()) > 0.999  # windows batched differently (sw_batch_size) may flip a voxel
    spleen = summary["segmentations"]["pred"]["labels"][0]
    assert spleen["name"] == "spleen" and spleen["voxels"] == int((ours == 1).sum())
    assert spleen["volume_mm3"] == pytest.approx(spleen["voxels"] * 0.78125 * 0.78125 * 1.0, rel=1e-5)
    explain = summary["explanations"]["pred_explain"]
    assert explain["label"] == 1 and "pred_explain" in summary["heatmaps"]
    assert nib.load(summary["maps"]["pred_explain"]).shape == nib.load(ct_crop).shape


def test_spleen_trusted_gives_the_untrusted_result(tmp_path: Path, ct_crop: Path) -> None:
    bundle = zoo_copy("spleen_ct_segmentation", tmp_path / "spleen")
    untrusted = _run(BundleRunner(bundle, device="cpu"), ct_crop, tmp_path / "u")
    trusted = _run(BundleRunner(bundle, device="cpu", trusted=True), ct_crop, tmp_path / "t")

    def counts(summary: dict) -> list[tuple[int, str, int]]:
        return [(lab["value"], lab["name"], lab["voxels"]) for lab in summary["segmentations"]["pred"]["labels"]]

    assert counts(untrusted) == counts(trusted)
    assert any("SaveImaged" in w for w in untrusted["warnings"])


def test_brats_untrusted_on_four_copies_of_a_dicom_mr_series(tmp_path: Path) -> None:
    """Four channels (the same real MR series four times) and three overlapping sigmoid regions."""
    series = require_data("dicom/mr-head-t1-sag-siemens-prisma/dicom")
    bundle = zoo_copy("brats_mri_segmentation", tmp_path / "brats")
    runner = BundleRunner(bundle, device="cpu", overrides={"inferer#roi_size": [256, 256, 40]})
    with pytest.raises(BundleError, match=r"expects 4 input channel\(s\): 0=T1c, 1=T1, 2=T2, 3=FLAIR; got 1"):
        runner.run(series)
    result = runner.run([series] * 4)
    assert tuple(result.image.shape) == (4, 256, 256, 35)
    summary = write_outputs(result, tmp_path / "out", bundle=runner.bundle, montage=False)
    segmentation = summary["segmentations"]["pred"]
    assert segmentation["kind"] == "multilabel"
    assert [label["name"] for label in segmentation["labels"]] == ["Tumor core", "Whole tumor", "Enhancing tumor"]
    written = nib.load(segmentation["path"])
    assert written.shape == (256, 256, 35, 3) and np.asanyarray(written.dataobj).dtype == np.uint8
    np.testing.assert_allclose(written.affine, np.asarray(result.image.affine), atol=1e-6)
    assert any("Lambdad" in w for w in summary["warnings"])


def test_prostate_untrusted_keeps_largest_components_and_inverts(tmp_path: Path, mr_crop: Path) -> None:
    bundle = zoo_copy("prostate_mri_anatomy", tmp_path / "prostate")
    summary = _run(BundleRunner(bundle, device="cpu"), mr_crop, tmp_path / "out")
    labels = _check_on_input_grid(summary, mr_crop)
    names = [label["name"] for label in summary["segmentations"]["pred"]["labels"]]
    assert names == ["central gland", "peripheral zone"] and set(np.unique(labels)) <= {0, 1, 2}


@needs_zoo_expressions
def test_segmentation_template_untrusted_yaml(tmp_path: Path, ct_crop: Path) -> None:
    bundle = zoo_copy("segmentation_template", tmp_path / "template")
    summary = _run(BundleRunner(bundle, device="cpu"), ct_crop, tmp_path / "out")
    _check_on_input_grid(summary, ct_crop)
    assert [label["value"] for label in summary["segmentations"]["pred"]["labels"]] == [1, 2, 3]


def test_segmentation_template_trusted_yaml(tmp_path: Path, ct_crop: Path) -> None:
    bundle = zoo_copy("segmentation_template", tmp_path / "template")
    summary = _run(BundleRunner(bundle, device="cpu", trusted=True), ct_crop, tmp_path / "out")
    _check_on_input_grid(summary, ct_crop)


def test_renal_unest_needs_trust_for_its_scripts(tmp_path: Path, ct_crop: Path) -> None:
    bundle = zoo_copy("renalStructures_UNEST_segmentation", tmp_path / "renal")
    with pytest.raises(BundleCodeNeedsTrustError, match=r"scripts\.networks\.unest\.UNesT.*--trusted"):
        BundleRunner(bundle, device="cpu")
    assert "scripts" not in sys.modules
    crop = tmp_path / "small.nii.gz"
    image = nib.load(ct_crop)
    nib.save(nib.Nifti1Image(np.asanyarray(image.dataobj)[16:80, 16:80], image.affine), crop)  # one 96^3 window
    summary = _run(BundleRunner(bundle, device="cpu", trusted=True), crop, tmp_path / "out")
    _check_on_input_grid(summary, crop)
    assert [label["name"] for label in summary["segmentations"]["pred"]["labels"]] == [
        "kidney cortex", "medulla", "pelvicalyceal system",
    ]  # fmt: skip
    assert "scripts" not in sys.modules  # the bundle's code does not leak into the process's imports


@pytest.mark.parametrize("trusted", [False, True])
def test_2d_classification_template_is_refused(tmp_path: Path, trusted: bool) -> None:
    bundle = zoo_copy("classification_template", tmp_path / "classification")
    with pytest.raises((UnsupportedBundleError, UntrustedCodeError), match=r"2D|CommonKeys|IMAGE"):
        BundleRunner(bundle, device="cpu", trusted=trusted)


@pytest.mark.parametrize("trusted", [False, True])
def test_configs_for_older_monai_end_in_typed_errors(tmp_path: Path, trusted: bool) -> None:
    """SwinUNETR's img_size (gone in MONAI 1.6) and a DiNTS network that needs an architecture checkpoint."""
    bundle = zoo_copy("spleen_ct_segmentation", tmp_path / "spleen")
    config = bundle / "configs" / "inference.json"
    original = json.loads(config.read_text())
    networks = {
        "swin": {"_target_": "SwinUNETR", "img_size": [96, 96, 96], "in_channels": 1, "out_channels": 2},
        "dints": {
            "_target_": "DiNTS",
            "dints_space": "$monai.networks.nets.TopologyInstance(arch_code=torch.load(@arch_ckpt_path)['code'])",
            "in_channels": 1,
            "num_classes": 2,
        },
    }
    reasons = {"swin": "img_size", "dints": "search_code.pt" if trusted else "allow-list|not allowed"}
    for name, network in networks.items():
        edited = original | {"network_def": network, "arch_ckpt_path": "$@bundle_root + '/models/search_code.pt'"}
        config.write_text(json.dumps(edited))
        with pytest.raises(BundleError) as caught:
            BundleRunner(bundle, device="cpu", trusted=trusted)
        assert str(config) in str(caught.value) and re.search(reasons[name], str(caught.value)), name
