"""Untrusted bundles cannot run code: config payloads and pickled weights are refused before anything runs."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch

from monai_ext.bundle import (
    BundleFileError,
    UntrustedCodeError,
    WeightsError,
    load_bundle,
)
from monai_ext.bundle.untrusted.safe_config import check_target
from monai_ext.bundle.untrusted.safe_expr import UnsafeExpressionError
from tests.bundle.conftest import edit_config


def _payload(marker: Path) -> str:
    return f"$__import__('pathlib').Path({str(marker)!r}).write_text('pwned') and 2"


def test_shipped_bundles_load_untrusted() -> None:
    from tests.bundle.conftest import AUTOENCODER, CLASSIFIER, GAN

    for path in (CLASSIFIER, AUTOENCODER, GAN):
        bundle = load_bundle(path)
        assert not bundle.trusted and bundle.verified, path
        assert isinstance(bundle.network, torch.nn.Module) and not bundle.network.training


@pytest.mark.parametrize("where", ["network", "preprocessing"])
def test_expression_payload_is_refused_before_it_runs(classifier_copy: Path, tmp_path: Path, where: str) -> None:
    marker = tmp_path / "marker.txt"

    def plant(config: dict[str, Any]) -> None:
        if where == "network":
            config["network_def"]["in_channels"] = _payload(marker)
        else:
            config["preprocessing"]["transforms"][1]["spatial_size"] = _payload(marker)

    path = edit_config(classifier_copy, plant)
    from monai_ext.bundle import BundleRunner

    with pytest.raises(UntrustedCodeError) as info:
        BundleRunner(classifier_copy)
    message = str(info.value)
    assert str(path) in message and "function call" in message
    assert ("network_def::in_channels" if where == "network" else "preprocessing::transforms::1") in message
    assert not marker.exists()


def test_trusted_bundle_does_run_its_code(classifier_copy: Path, tmp_path: Path) -> None:
    """The same payload runs once the user trusts the bundle: safe loading is what stopped it."""
    marker = tmp_path / "marker.txt"
    edit_config(classifier_copy, lambda c: c["network_def"].__setitem__("in_channels", _payload(marker)))
    load_bundle(classifier_copy, trusted=True)
    assert marker.read_text() == "pwned"


def test_payload_in_a_key_the_runner_never_reads_is_never_run(classifier_copy: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker.txt"
    edit_config(classifier_copy, lambda c: c.__setitem__("evaluator", _payload(marker)))
    bundle = load_bundle(classifier_copy)
    assert bundle.optional("postprocessing") is not None
    assert not marker.exists()


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("os.system", "outside the allow-list"),
        ("monai.bundle.ConfigParser", "outside the allow-list"),
        ("LoadImaged", "outside the allow-list"),
        ("monai.networks.utils.save_state", "outside the allow-list"),
        ("monai.transforms.utils.allow_missing_keys_mode", "outside the allow-list"),
        ("monai.networks.nets.densenet.torch.load", "outside the allow-list"),
        ("torch.nn.modules.module.torch.load", "outside the allow-list"),
        ("torch.nn.Linear", "outside the allow-list"),
        ("SaveClassificationd", "outside the allow-list"),
        ("monai.transforms.post.dictionary.SaveClassificationd", "outside the allow-list"),
        ("monai.apps.pathology.inferers.inferer.SlidingWindowHoVerNetInferer", "outside the allow-list"),
        ("Hovernet", "outside the allow-list"),
        ("torch.nn.parallel.DistributedDataParallel", "outside the allow-list"),
        ("antigravity.X", "outside the allow-list"),
        ("monai_ext.engines.gan.write_realism_map", "outside the allow-list"),
        ("monai_ext.engines.reports.anomaly_maps.AnomalyMapWriter", "outside the allow-list"),
        ("monai_ext.engines.AnomalyMapWriter", "outside the allow-list"),
        ("torch.nn.Module.__subclasses__", "private name"),
        ("$torch.nn.Linear", "plain class name"),
    ],
)
def test_targets_outside_the_allow_list_are_refused(target: str, reason: str) -> None:
    with pytest.raises(UnsafeExpressionError, match=reason):
        check_target(target)


def test_allowed_targets_resolve() -> None:
    assert check_target("Resized").__name__ == "Resized"
    assert check_target("monai.transforms.spatial.dictionary.Resized").__name__ == "Resized"
    assert check_target("monai_ext.networks.Classifier").__name__ == "Classifier"
    assert check_target("UNet", role="network").__name__ == "UNet"
    with pytest.raises(UnsafeExpressionError, match="only a transform is allowed"):
        check_target("UNet", role="transform")


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("_target_", "os.system", "outside the allow-list"),
        ("_mode_", "callable", "_mode_"),
        ("_target_", "monai.networks.nets.DenseNet121", "pretrained"),
    ],
)
def test_refused_components_name_file_and_key(classifier_copy: Path, key: str, value: str, reason: str) -> None:
    def plant(config: dict[str, Any]) -> None:
        config["network_def"][key] = value
        if value.endswith("DenseNet121"):
            config["network_def"] = {"_target_": value, "spatial_dims": 3, "in_channels": 2, "out_channels": 2,
                                     "pretrained": True}  # fmt: skip

    path = edit_config(classifier_copy, plant)
    with pytest.raises(UntrustedCodeError, match=reason) as info:
        load_bundle(classifier_copy)
    assert str(path) in str(info.value) and "'network_def" in str(info.value)


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.marker, "pwned"))


def test_pickled_weights_payload_is_refused(classifier_copy: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker.txt"
    weights = classifier_copy / "models" / "model.pt"
    state = torch.load(weights, weights_only=True)
    state["evil"] = _Payload(marker)  # type: ignore[assignment]
    torch.save(state, weights)
    (classifier_copy / "models" / "model.pt.sha256").unlink()  # even without a manifest to catch it
    with pytest.raises(WeightsError, match="weights_only=True") as info:
        load_bundle(classifier_copy)
    assert str(weights) in str(info.value)
    assert not marker.exists()


def test_changed_weights_fail_the_sha256(classifier_copy: Path) -> None:
    weights = classifier_copy / "models" / "model.pt"
    state = torch.load(weights, weights_only=True)
    state["head.3.bias"] = state["head.3.bias"] + 1.0
    torch.save(state, weights)
    with pytest.raises(WeightsError, match="sha256"):
        load_bundle(classifier_copy)


def test_weights_that_do_not_fit_are_named(classifier_copy: Path) -> None:
    edit_config(classifier_copy, lambda c: c["network_def"].__setitem__("channels", [8, 16, 32, 64]))
    with pytest.raises(WeightsError, match="does not fit network_def"):
        load_bundle(classifier_copy)


def test_missing_manifest_is_a_warning(classifier_copy: Path) -> None:
    (classifier_copy / "models" / "model.pt.sha256").unlink()
    bundle = load_bundle(classifier_copy)
    assert not bundle.verified and "not checked" in bundle.warnings[0]


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda b: (b / "configs" / "metadata.json").unlink(), "metadata.json"),
        (lambda b: (b / "configs" / "metadata.json").write_text("{not json"), "not valid JSON"),
        (lambda b: (b / "configs" / "inference.json").unlink(), "no inference config"),
        (lambda b: (b / "models" / "model.pt").unlink(), "model.pt"),
        (lambda b: (b / "configs" / "inference.json").write_text("[1, 2"), "not valid JSON"),
        (lambda b: (b / "configs" / "inference.json").write_text("[1, 2]"), "must be a mapping"),
    ],
)
def test_missing_or_broken_files_are_named(classifier_copy: Path, damage: Any, match: str) -> None:
    damage(classifier_copy)
    with pytest.raises(BundleFileError, match=match):
        load_bundle(classifier_copy)


def test_metadata_without_network_data_format_fails_the_schema(classifier_copy: Path) -> None:
    edit_config(classifier_copy, lambda m: m.pop("network_data_format"), name="metadata.json")
    with pytest.raises(BundleFileError, match="network_data_format"):
        load_bundle(classifier_copy)


def test_zip_bundle_loads_and_escaping_entries_are_refused(classifier_copy: Path, tmp_path: Path) -> None:
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in classifier_copy.rglob("*"):
            if path.is_file():
                zf.write(path, Path("classifier") / path.relative_to(classifier_copy))
    assert load_bundle(archive).verified
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../outside.txt", "x")
    with pytest.raises(BundleFileError, match="outside the bundle"):
        load_bundle(evil)
    assert not (tmp_path.parent / "outside.txt").exists()
