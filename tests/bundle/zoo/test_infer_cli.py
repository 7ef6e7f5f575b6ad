"""``monai-ext infer`` on zoo bundles: segmentation summary, channels by name or position, config overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monai_ext.bundle import BundleInputError
from monai_ext.cli.infer import input_channels, parse_overrides
from monai_ext.cli.main import main
from tests.bundle.zoo.conftest import zoo_copy

SPEC = {"num_channels": 2, "channel_def": {"0": "T1c", "1": "FLAIR"}}


def test_channel_arguments() -> None:
    assert input_channels([], ["flair=b.nii", "T1c=a.nii"], SPEC) == [Path("a.nii"), Path("b.nii")]
    assert input_channels([Path("x"), Path("y")], [], SPEC) == [Path("x"), Path("y")]
    with pytest.raises(BundleInputError, match="not both"):
        input_channels([Path("x")], ["T1c=a"], SPEC)
    with pytest.raises(BundleInputError, match="NAME=PATH"):
        input_channels([], ["T1c"], SPEC)
    with pytest.raises(BundleInputError, match="no input"):
        input_channels([], [], SPEC)


def test_overrides_are_json_values() -> None:
    assert parse_overrides(["inferer#roi_size=[64, 64, 32]", "image_key=image"]) == {
        "inferer#roi_size": [64, 64, 32],
        "image_key": "image",
    }
    with pytest.raises(BundleInputError, match="KEY=VALUE"):
        parse_overrides(["roi"])


@pytest.mark.realdata
def test_infer_writes_the_segmentation_and_prints_volumes(
    tmp_path: Path, ct_crop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = zoo_copy("spleen_ct_segmentation", tmp_path / "spleen")
    out = tmp_path / "out"
    args = ["infer", str(ct_crop), "--bundle", str(bundle), "--out", str(out), "--no-montage"]
    assert main([*args, "--override", "inferer#overlap=0.25"]) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "result.json").read_text())
    spleen = summary["segmentations"]["pred"]["labels"][0]
    assert f"pred 1 spleen: {spleen['voxels']} voxels" in printed
    assert Path(summary["segmentations"]["pred"]["path"]).is_file()
    assert summary["heatmaps"] == ["pred_prob_spleen"]


@pytest.mark.realdata
def test_infer_with_too_few_channels_names_them(
    tmp_path: Path, ct_crop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = zoo_copy("brats_mri_segmentation", tmp_path / "brats")  # the first run: both paths read in the sandbox
    args = ["infer", str(ct_crop), str(ct_crop), "--bundle", str(bundle), "--out", str(tmp_path / "out")]
    assert main(args) == 2
    assert "0=T1c, 1=T1, 2=T2, 3=FLAIR; got 2" in capsys.readouterr().err
    assert main([*args[:1], "--channel", "T1c=" + str(ct_crop), *args[3:], "--no-sandbox"]) == 2
    assert "missing channel(s) ['T1', 'T2', 'FLAIR']" in capsys.readouterr().err
