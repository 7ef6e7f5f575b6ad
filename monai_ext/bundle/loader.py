"""Load a bundle folder or zip: check its files, metadata and weights, build its network without trusting it."""

from __future__ import annotations

import json
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import jsonschema
import torch
from torch import nn

from monai_ext.bundle.errors import BundleError, BundleFileError, WeightsError
from monai_ext.bundle.policy import load_policy
from monai_ext.bundle.untrusted.archive import MAX_EXTRACTED_BYTES, ExtractedCopy, extract_bundle
from monai_ext.bundle.untrusted.contained import check_links, inside
from monai_ext.bundle.untrusted.metadata_checks import check_metadata
from monai_ext.bundle.untrusted.safe_config import BundleConfig
from monai_ext.bundle.untrusted.weights_size import check_weights_size, state_dict_bytes
from monai_ext.engines.training.best_model import sha256_of

__all__ = ["Bundle", "load_bundle", "load_companion", "read_metadata"]

SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "meta_schema.json"
CONFIG_NAMES = ("inference.json", "inference.yaml", "inference.yml")
MAX_ZIP_BYTES = MAX_EXTRACTED_BYTES
NETWORK_KEYS = ("network_def", "generator_def")  # a GAN bundle ships its generator


@dataclass(frozen=True)
class Bundle:
    """A loaded bundle: its folder, metadata, inference config and network (on CPU, eval mode, weights in).

    Attributes:
        root: the bundle folder (a temporary copy for a zip).
        metadata: ``configs/metadata.json``, checked against the bundled MONAI schema.
        config: the inference config, resolved safely unless ``trusted``.
        network: the ``network_def`` with ``models/model.pt`` loaded (``weights_only=True``).
        weights: path of the weights file.
        sha256: its digest; ``verified`` says whether it matched ``models/model.pt.sha256``.
        trusted: whether the config may run code.
        warnings: plain-text notes for the user (e.g. unverified weights).
        extracted: the temporary copy of a zipped bundle, deleted by :meth:`close` (or when collected).
    """

    root: Path
    metadata: dict[str, Any]
    config: BundleConfig
    network: nn.Module
    weights: Path
    sha256: str
    verified: bool
    trusted: bool
    warnings: list[str] = field(default_factory=list)
    extracted: ExtractedCopy | None = None

    def close(self) -> None:
        """Delete the temporary copy of a zipped bundle (nothing to do for a folder)."""
        if self.extracted is not None:
            self.extracted.close()

    def __enter__(self) -> Bundle:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    @property
    def name(self) -> str:
        """The bundle's display name (metadata ``name``, else the folder name)."""
        return str(self.metadata.get("name") or self.root.name)

    @property
    def inputs(self) -> dict[str, Any]:
        """``network_data_format.inputs`` of the metadata."""
        return dict(self.metadata["network_data_format"]["inputs"])

    @property
    def outputs(self) -> dict[str, Any]:
        """``network_data_format.outputs`` of the metadata."""
        return dict(self.metadata["network_data_format"]["outputs"])

    def optional(self, key: str) -> Any:
        """The resolved config key, or ``None`` when the config does not define it."""
        return self.config.get(key) if key in self.config else None


def load_bundle(
    path: str | Path,
    *,
    trusted: bool = False,
    device: torch.device | str = "cpu",
    parameter_budget: int | None = None,
    max_extracted_bytes: int = MAX_EXTRACTED_BYTES,
) -> Bundle:
    """Load and check a bundle.

    Args:
        path: a bundle folder (with ``configs/`` and ``models/``) or a ``.zip`` of one (extracted into a
            temporary copy that :meth:`Bundle.close` deletes; a failed load deletes it at once).
        trusted: ``False`` (default) refuses config code outside the safe subset, see
            :mod:`monai_ext.bundle.untrusted.safe_config`. Weights always load with ``weights_only=True``.
        device: the runner's device: untrusted ``torch.device(...)`` expressions evaluate to it.
        parameter_budget: the most parameters an untrusted network may have (default: the policy's 2e8).
        max_extracted_bytes: the most bytes a zipped bundle may expand to (counted while extracting).

    Raises:
        BundleFileError: a missing or invalid file, or a symlink out of the bundle (names it).
        BundleLimitError: the bundle asks for more than the caps (names the cap).
        WeightsError: sha256 mismatch, pickled code, or weights that do not fit the network.
        UntrustedCodeError: the network definition asks for refused code (names file and key).
    """
    source = Path(path)
    extracted = extract_bundle(source, max_bytes=max_extracted_bytes) if _is_zip(source) else None
    try:
        root = _bundle_root(extracted.path if extracted else source)
        if not trusted:
            check_links(root)
        metadata = read_metadata(root / "configs" / "metadata.json")
        if not trusted:
            check_metadata(metadata, root / "configs" / "metadata.json", load_policy().limits)
        config_path = next((root / "configs" / n for n in CONFIG_NAMES if (root / "configs" / n).is_file()), None)
        if config_path is None:
            raise BundleFileError(f"no inference config ({', '.join(CONFIG_NAMES)})", root / "configs")
        config = BundleConfig(
            config_path, trusted=trusted, overrides={"bundle_root": str(root)}, root=root, device=device,
            parameter_budget=parameter_budget,
        )  # fmt: skip
        weights = root / "models" / "model.pt"
        digest, verified, notes = _check_weights(weights, root)
        network = _build_network(config, weights)
    except BaseException:
        if extracted is not None:
            extracted.close()
        raise
    return Bundle(
        root=root, metadata=metadata, config=config, network=network, weights=weights,
        sha256=digest, verified=verified, trusted=trusted, warnings=notes, extracted=extracted,
    )  # fmt: skip


def load_companion(bundle: Bundle, *, key: str, weights_name: str) -> nn.Module:
    """A second network of the bundle (e.g. a GAN's ``discriminator_def`` with ``models/discriminator.pt``).

    Built and checked like the main network: safe config unless trusted, sha256 manifest, ``weights_only``.

    Raises:
        BundleFileError: the config has no ``key`` or the weights file is missing.
        WeightsError: as for :func:`load_bundle`.
    """
    if key not in bundle.config:
        raise BundleFileError(f"the inference config has no {key}", bundle.config.path)
    weights = bundle.root / "models" / weights_name
    _check_weights(weights, bundle.root)
    network = bundle.config.get(key)
    if not isinstance(network, nn.Module):
        raise BundleFileError(f"{key} builds a {type(network).__name__}, not a torch module", bundle.config.path)
    _load_into(network, weights, trusted=bundle.config.trusted)
    return network.eval()


def read_metadata(path: Path) -> dict[str, Any]:
    """Read ``metadata.json`` and validate it against the offline MONAI bundle schema.

    Raises:
        BundleFileError: missing, not JSON, or not valid (the message gives the failing field).
    """
    from monai_ext.bundle.untrusted.parse import MAX_CONFIG_BYTES, MAX_DEPTH, json_depth

    if not path.is_file():
        raise BundleFileError("missing: every bundle needs configs/metadata.json", path)
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise BundleFileError(f"larger than {MAX_CONFIG_BYTES >> 20} MiB", path)
        text = path.read_text(encoding="utf-8")
        if json_depth(text) > MAX_DEPTH:
            raise BundleFileError(f"nests more than {MAX_DEPTH} levels deep", path)
        metadata = json.loads(text)
    except (OSError, ValueError, RecursionError) as err:
        if isinstance(err, BundleError):
            raise
        raise BundleFileError(f"not valid JSON ({str(err)[:200]})", path) from err
    if not isinstance(metadata, dict):
        raise BundleFileError(f"must hold a JSON object, not a {type(metadata).__name__}", path)
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    try:
        jsonschema.validate(metadata, schema)
    except jsonschema.ValidationError as err:
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise BundleFileError(f"does not follow the bundle schema at {where}: {err.message}", path) from err
    return dict(metadata)


def _is_zip(path: Path) -> bool:
    return path.is_file() and zipfile.is_zipfile(path)


def _bundle_root(path: Path) -> Path:
    if not path.is_dir():
        raise BundleFileError("not a bundle folder or zip", path)
    if (path / "configs").is_dir():
        return path
    children = [c for c in path.iterdir() if (c / "configs").is_dir()]
    if len(children) == 1:  # a zip of the bundle folder itself
        return children[0]
    raise BundleFileError("no configs/ folder: not a MONAI bundle", path)


def _check_weights(weights: Path, root: Path) -> tuple[str, bool, list[str]]:
    if not weights.is_file():
        raise BundleFileError("missing: the runner loads models/model.pt (a state dict)", weights)
    inside(root, weights)
    digest = sha256_of(weights)
    manifest = weights.with_name(weights.name + ".sha256")
    if manifest.exists():
        inside(root, manifest)
    if not manifest.is_file():
        return digest, False, [f"{weights.name} has no .sha256 manifest: its integrity was not checked"]
    expected = (manifest.read_text(encoding="utf-8").split() or [""])[0].lower()
    if expected != digest:
        raise WeightsError(f"sha256 {digest} does not match the manifest ({expected}): the file changed", weights)
    return digest, True, []


def _build_network(config: BundleConfig, weights: Path) -> nn.Module:
    key = next((k for k in NETWORK_KEYS if k in config), None)
    if key is None:
        raise BundleFileError(f"the inference config has none of {NETWORK_KEYS}", config.path)
    try:
        network = config.get(key)
    except BundleError:
        raise
    except Exception as err:  # MONAI wraps instantiation failures in RuntimeError/TypeError
        raise BundleFileError(f"cannot build {key} ({err})", config.path) from err
    if not isinstance(network, nn.Module):
        raise BundleFileError(f"{key} builds a {type(network).__name__}, not a torch module", config.path)
    _load_into(network, weights, trusted=config.trusted)
    return network.eval()


def _state_dict(weights: Path) -> dict[str, torch.Tensor]:
    try:
        loaded = torch.load(weights, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, KeyError, OSError, zipfile.BadZipFile) as err:
        reason = str(err).splitlines()[0][:200]
        raise WeightsError(
            f"refused: not a plain tensor file ({reason}); weights load with weights_only=True", weights
        ) from err
    for key in ("model", "state_dict", "network"):
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
    if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise WeightsError("does not hold a state dict of tensors", weights)
    return {str(k).removeprefix("module."): v for k, v in loaded.items()}


def _load_into(network: nn.Module, weights: Path, *, trusted: bool) -> None:
    if not trusted:
        budget = 8 * load_policy().limits.parameter_budget  # float64 at most per parameter
        check_weights_size(weights, state_dict_bytes(network), budget_bytes=budget)
    try:
        network.load_state_dict(_state_dict(weights), strict=True)
    except RuntimeError as err:
        raise WeightsError(f"does not fit network_def ({str(err)[:400]})", weights) from err
