"""The allow-list admits what MONAI Model Zoo inference configs build, once their readers and writers are removed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from monai.inferers import Inferer
from monai.transforms import Compose
from torch import nn

from monai_ext.bundle import UntrustedCodeError
from monai_ext.bundle.untrusted.parse import read_untrusted_config
from monai_ext.bundle.untrusted.safe_config import BundleConfig
from tests.conftest import REPO

ZOO = REPO.parent / "shared" / "zoo"
IO_TARGETS = {"LoadImaged", "SaveImaged", "Lambdad"}  # the zoo adapter replaces these before the audit
ZOO_CONFIGS = sorted(ZOO.glob("*/configs/inference.*")) if ZOO.is_dir() else []


def _without_io(content: dict[str, Any]) -> dict[str, Any]:
    for key in ("preprocessing", "postprocessing", "transforms"):
        holder = content.get(key)
        steps = holder.get("transforms") if isinstance(holder, dict) else holder
        if isinstance(steps, list):
            steps[:] = [s for s in steps if not (isinstance(s, dict) and s.get("_target_") in IO_TARGETS)]
    return content


@pytest.mark.realdata
@pytest.mark.skipif(not ZOO_CONFIGS, reason=f"the zoo bundles are not available at {ZOO}")
@pytest.mark.parametrize("config_path", ZOO_CONFIGS, ids=lambda p: p.parts[-3])
def test_zoo_inference_keys_build_untrusted(config_path: Path, tmp_path: Path) -> None:
    content = _without_io(read_untrusted_config(config_path, root=config_path.parent.parent))
    (tmp_path / "configs").mkdir()
    path = tmp_path / "configs" / "inference.json"
    path.write_text(json.dumps(content))
    config = BundleConfig(path, trusted=False, overrides={"bundle_root": str(tmp_path)})
    if "scripts." in str(content["network_def"].get("_target_")):  # a class of the bundle's own code
        with pytest.raises(UntrustedCodeError, match="allow-list"):
            config.get("network_def")
    else:
        assert isinstance(config.get("network_def"), nn.Module)
    assert isinstance(config.get("preprocessing"), Compose)
    assert isinstance(config.get("postprocessing"), Compose)
    assert isinstance(config.get("inferer"), Inferer)
