"""Bounded parsing of untrusted configs, zip extraction, weights sizes, metadata names and links: unit cases."""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path

import pytest
import torch

from monai_ext.bundle.errors import BundleFileError, BundleLimitError
from monai_ext.bundle.policy import load_policy
from monai_ext.bundle.untrusted.archive import extract_bundle
from monai_ext.bundle.untrusted.contained import check_links
from monai_ext.bundle.untrusted.metadata_checks import check_metadata
from monai_ext.bundle.untrusted.parse import json_depth, read_untrusted_config
from monai_ext.bundle.untrusted.weights_size import check_weights_size, state_dict_bytes


def _config(root: Path, text: str, name: str = "inference.json") -> Path:
    (root / "configs").mkdir(exist_ok=True)
    path = root / "configs" / name
    path.write_text(text)
    return path


def test_json_depth_ignores_brackets_inside_strings() -> None:
    assert json_depth('{"a": "[[[[{{{{", "b": [[1], {"c": "]]]"}]}') == 3
    assert json_depth('"\\' * 1000) == 0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a: &x [1]\nb: *x\n", "anchor"),
        ("a: !!python/name:os.system\n", "tag"),
        ("%TAG ! tag:evil,2024:\n---\na: 1\n", "directive"),
        ("- 1\n- 2\n", "mapping"),
        ("a: [1, 2\n", "not valid YAML"),
    ],
)
def test_yaml_features_that_run_or_explode_are_refused(tmp_path: Path, text: str, reason: str) -> None:
    with pytest.raises(BundleFileError, match=reason):
        read_untrusted_config(_config(tmp_path, text, "inference.yaml"), root=tmp_path)


def test_plain_yaml_reads(tmp_path: Path) -> None:
    path = _config(tmp_path, "net:\n  _target_: UNet\n  channels: [4, 8]\nkeys: '@image'\n", "inference.yaml")
    assert read_untrusted_config(path, root=tmp_path) == {"net": {"_target_": "UNet", "channels": [4, 8]},
                                                          "keys": "@image"}  # fmt: skip


def test_macros_inside_the_bundle_expand(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "common.json").write_text(json.dumps({"net": {"channels": [4, 8]}}))
    config = {"a": "%configs/common.json::net", "b": {"x": 1, "y": "%#x"}, "c": "%b::x", "d": ["%a::channels"]}
    result = read_untrusted_config(_config(tmp_path, json.dumps(config)), root=tmp_path)
    assert result == {"a": {"channels": [4, 8]}, "b": {"x": 1, "y": 1}, "c": 1, "d": [[4, 8]]}


@pytest.mark.parametrize(
    ("macro", "error", "reason"),
    [
        ("%/etc/passwd#x", BundleFileError, "no such key"),  # not a config file name: never opened
        ("%/etc/hosts.json#x", BundleFileError, "outside the bundle"),
        ("%../secret.json#x", BundleFileError, "outside the bundle"),
        ("%configs/missing.json#x", BundleFileError, "no such config file"),
        ("%nowhere", BundleFileError, "no such key"),
        ("%a", BundleLimitError, "macros"),
    ],
)
def test_macros_out_of_the_bundle_are_refused(tmp_path: Path, macro: str, error: type, reason: str) -> None:
    (tmp_path / "secret.json").write_text('{"x": 1}')
    root = tmp_path / "bundle"
    root.mkdir()
    with pytest.raises(error, match=reason) as info:
        read_untrusted_config(_config(root, json.dumps({"a": macro})), root=root)
    assert "'a'" in str(info.value)


def test_zip_extraction_counts_bytes_and_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    archive = tmp_path / "b.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("b/configs/metadata.json", "{}")
        zf.writestr("b/models/model.pt", bytes(4 << 20))
    with extract_bundle(archive) as copy:
        assert (copy.path / "b" / "models" / "model.pt").stat().st_size == 4 << 20
    assert copy.closed and not copy.path.exists()
    with pytest.raises(BundleLimitError, match="declares more than"):
        extract_bundle(archive, max_bytes=1 << 20)
    lying = bytearray(archive.read_bytes())  # the central directory claims 100 bytes for the 4 MiB entry
    at = lying.rindex(b"b/models/model.pt") - 46  # its central-directory record (name at offset 46)
    assert lying[at : at + 4] == b"PK\x01\x02"
    lying[at + 24 : at + 28] = (100).to_bytes(4, "little")
    archive.write_bytes(bytes(lying))
    with pytest.raises(BundleFileError, match="damaged"):  # zipfile stops at the declared size: the CRC fails
        extract_bundle(archive, max_bytes=1 << 20)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_weights_larger_than_their_network_are_refused_before_loading(tmp_path: Path) -> None:
    network = torch.nn.Linear(4, 2)
    weights = tmp_path / "model.pt"
    torch.save(network.state_dict(), weights)
    check_weights_size(weights, state_dict_bytes(network), budget_bytes=1 << 30)
    with zipfile.ZipFile(weights, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model/data/99", bytes(32 << 20))
    with pytest.raises(BundleLimitError, match="more than the whole network needs"):
        check_weights_size(weights, state_dict_bytes(network), budget_bytes=1 << 30)


@pytest.mark.parametrize(
    ("section", "name", "spec", "error"),
    [
        ("outputs", "../x", {}, BundleFileError),
        ("outputs", "a/b", {}, BundleFileError),
        ("outputs", "x" * 65, {}, BundleFileError),
        ("inputs", "latent", {"type": "latent", "num_channels": 2e10}, BundleLimitError),
        ("inputs", "latent", {"type": "latent", "num_channels": "64"}, BundleFileError),
        ("inputs", "image", {"spatial_shape": [4096, 4096, 4096]}, BundleLimitError),
    ],
)
def test_metadata_names_and_sizes(section: str, name: str, spec: dict, error: type) -> None:
    metadata = {"network_data_format": {section: {name: spec}}}
    with pytest.raises(error, match="network_data_format"):
        check_metadata(metadata, Path("metadata.json"), load_policy().limits)


def test_links_out_of_the_bundle_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "bundle"
    (root / "models").mkdir(parents=True)
    (root / "models" / "inside").symlink_to(root / "models")
    check_links(root)
    (tmp_path / "elsewhere.pt").write_bytes(b"x")
    (root / "models" / "model.pt").symlink_to(tmp_path / "elsewhere.pt")
    with pytest.raises(BundleFileError, match="symlink leads outside"):
        check_links(root)
