"""No bundle config points outside its bundle; a missing dataset ends in one line naming the override."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.bundles.conftest import BUNDLES

ADRENAL = ("adrenal_hyperplasia_classifier_3d", "adrenal_shape_autoencoder_3d", "adrenal_shape_gan_3d")


@pytest.mark.parametrize("bundle", ADRENAL)
def test_no_config_default_points_outside_the_bundle(bundle: str) -> None:
    for path in (BUNDLES / bundle / "configs").glob("*.json"):
        text = path.read_text()
        assert "../" not in text, f"{path.name} reaches outside the bundle"
        config = json.loads(text)
        if "dataset_path" in config:
            assert config["dataset_path"].startswith("$@bundle_root + '/data/"), path.name


def test_missing_dataset_names_the_override(tmp_path: object) -> None:
    bundle = BUNDLES / "adrenal_hyperplasia_classifier_3d"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "monai.bundle", "run", "--config_file", "configs/inference.json"]
    result = subprocess.run(
        [*command, "--bundle_root", ".", "--output_dir", str(tmp_path)],
        cwd=bundle,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "no dataset at" in last and "--dataset_path" in last and "Traceback" not in result.stderr
