"""Load a bundle for the runner: the project's own bundles as they are, MONAI Model Zoo bundles unchanged.

:func:`adapt_bundle` loads the bundle (checked metadata and weights, safe config unless trusted), then re-reads
its inference config with the :class:`~monai_ext.bundle.zoo.plan.ZooPlan` overrides: the loading head of
``preprocessing`` and the writers of ``postprocessing`` removed before anything is resolved. It resolves the
keys the runner uses (``preprocessing``, ``postprocessing``, ``inferer``), with ``scripts/`` importable for a
trusted bundle, and refuses up front what cannot run (2D networks on volumes, bundle code without trust).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import monai
import torch
from monai.bundle import ConfigParser, ReferenceResolver
from monai.inferers import Inferer

from monai_ext.bundle.errors import BundleConfigError, BundleError, BundleFileError, UntrustedCodeError
from monai_ext.bundle.loader import CONFIG_NAMES, NETWORK_KEYS, Bundle, load_bundle
from monai_ext.bundle.untrusted.safe_config import BundleConfig
from monai_ext.bundle.zoo.errors import UnsupportedBundleError, root_message
from monai_ext.bundle.zoo.inferer import build_inferer
from monai_ext.bundle.zoo.plan import ZooPlan, plan_config
from monai_ext.bundle.zoo.scripts import bundle_code, refuse_bundle_code

__all__ = ["AdaptedBundle", "adapt_bundle"]


@dataclass
class AdaptedBundle:
    """A bundle ready for the runner.

    Attributes:
        bundle: the loaded bundle; its ``config`` is the adapted one (loading and writing steps removed).
        plan: what was removed and why.
        preprocessing: the resolved ``preprocessing`` (``None`` when absent, e.g. a GAN).
        postprocessing: the resolved ``postprocessing`` or ``None``.
        inferer: the inferer to run the network with.
        image_keys: the keys the preprocessing reads the image from (the first gets the volume).
        warnings: notes for the user (steps skipped, caps applied).
    """

    bundle: Bundle
    plan: ZooPlan
    preprocessing: Any
    postprocessing: Any
    inferer: Inferer
    image_keys: list[str]
    warnings: list[str] = field(default_factory=list)


def adapt_bundle(
    path: str | Path | Bundle,
    *,
    trusted: bool = False,
    device: torch.device,
    overrides: Mapping[str, Any] | None = None,
) -> AdaptedBundle:
    """Load and adapt a bundle folder (or zip, or an already loaded :class:`Bundle`).

    Args:
        path: the bundle.
        trusted: let the config run code, and import the bundle's ``scripts/``.
        device: where the network will run (the inferer's devices follow it).
        overrides: config values to set before parsing, as ``python -m monai.bundle run --key value`` does
            (e.g. ``{"inferer#roi_size": [64, 64, 64]}``); plain data only.

    Raises:
        BundleCodeNeedsTrustError: untrusted, and the network or a transform is defined in ``scripts/``.
        UnsupportedBundleError: a 2D network, or an inferer or config the runner cannot use.
        BundleError: as :func:`~monai_ext.bundle.load_bundle`.
    """
    user = dict(overrides or {})
    _check_overrides(user)
    if isinstance(path, Bundle):
        bundle = path
    else:
        root = _folder_root(Path(path))
        if root is not None and (root / "scripts").is_dir():
            config_path = _config_path(root)
            plan = plan_config(_raw(config_path, root=root, trusted=trusted))
            if not trusted:
                refuse_bundle_code(plan.code_targets, config_path)
            elif plan.code_targets:  # only a trusted bundle's own code is ever importable
                with bundle_code(root):
                    return _adapt_loaded(_load(root, trusted=True, device=device), user, device, code_root=root)
        return _adapt_loaded(_load(Path(path), trusted=trusted, device=device), user, device, code_root=None)
    return _adapt(bundle, user, device, code_root=None)


def _adapt_loaded(
    bundle: Bundle, user: dict[str, Any], device: torch.device, *, code_root: Path | None
) -> AdaptedBundle:
    """:func:`_adapt` a bundle this module loaded: its temporary copy is deleted if adapting fails."""
    try:
        return _adapt(bundle, user, device, code_root=code_root)
    except BaseException:
        bundle.close()
        raise


def _load(path: Path, *, trusted: bool, device: torch.device) -> Bundle:
    """:func:`load_bundle`, with the real reason when the network cannot be built (MONAI wraps it twice)."""
    try:
        return load_bundle(path, trusted=trusted, device=device)
    except (BundleFileError, BundleConfigError) as err:
        building = "cannot build" in str(err) or any(f"'{key}' failed" in str(err) for key in NETWORK_KEYS)
        if err.__cause__ is None or not building:
            raise
        raise UnsupportedBundleError(
            f"the network cannot be built with MONAI {monai.__version__} ({root_message(err)}): the config may be "
            "written for another MONAI version, or need a file the bundle does not ship",
            err.path,
        ) from err


def _adapt(bundle: Bundle, user: dict[str, Any], device: torch.device, *, code_root: Path | None) -> AdaptedBundle:
    raw = bundle.config.parser.get()
    if not isinstance(raw, dict):
        raise BundleFileError("the inference config is not a mapping of keys", bundle.config.path)
    plan = plan_config(raw)
    _refuse_2d(bundle)
    if plan.loading is None and not plan.overrides and not user:
        config = bundle.config
    else:
        overrides = {"bundle_root": str(bundle.root)} | plan.overrides | user
        config = BundleConfig(
            bundle.config.path, trusted=bundle.trusted, overrides=overrides, root=bundle.root, device=device
        )
        bundle = dataclasses.replace(bundle, config=config)
    adapted = AdaptedBundle(
        bundle=bundle,
        plan=plan,
        preprocessing=_resolve(config, "preprocessing"),
        postprocessing=_resolve(config, "postprocessing"),
        inferer=build_inferer(config, device=device),
        image_keys=_image_keys(config, plan),
        warnings=list(plan.skipped),
    )
    if code_root is not None:
        adapted.warnings.append(f"trusted bundle: its code was imported from {code_root / 'scripts'}")
    return adapted


def _resolve(config: BundleConfig, key: str) -> Any:
    if key not in config:
        return None
    try:
        return config.get(key)
    except BundleError:
        raise
    except Exception as err:  # MONAI wraps instantiation failures in RuntimeError/TypeError/...
        raise UnsupportedBundleError(f"cannot build {key!r} ({root_message(err)})", config.path) from err


def _image_keys(config: BundleConfig, plan: ZooPlan) -> list[str]:
    """The loader's ``keys`` resolved (a key, a list of keys, or a reference to one); ``["image"]`` without one."""
    if plan.loading is None:
        return ["image"]
    keys = _resolve_value(config, plan.loading.keys)
    names = [keys] if isinstance(keys, str) else list(keys) if isinstance(keys, list | tuple) else None
    if not names or not all(isinstance(k, str) and k for k in names):
        raise UnsupportedBundleError(f"the loader's keys {plan.loading.keys!r} are not image keys", config.path)
    return names


def _resolve_value(config: BundleConfig, raw: Any) -> Any:
    """A raw value that may be an ``@id`` reference: resolved through the (safe) config."""
    if isinstance(raw, str) and raw.startswith("@"):
        return config.get(raw[1:])
    if isinstance(raw, list):
        return [_resolve_value(config, item) for item in raw]
    return raw


def _refuse_2d(bundle: Bundle) -> None:
    dims = _spatial_dims(bundle)
    if dims is not None and dims != 3:
        shape = bundle.inputs.get("image", {}).get("spatial_shape")
        raise UnsupportedBundleError(
            f"the network is {dims}D (input spatial_shape {shape}); the runner runs 3D volumes, and slice-by-slice "
            "inference of a 2D bundle is not supported: give it 2D images with python -m monai.bundle run",
            bundle.config.path,
        )


def _spatial_dims(bundle: Bundle) -> int | None:
    for module in bundle.network.modules():
        if isinstance(module, torch.nn.Conv1d | torch.nn.Conv2d | torch.nn.Conv3d):
            return {torch.nn.Conv1d: 1, torch.nn.Conv2d: 2, torch.nn.Conv3d: 3}[type(module)]
    shape = bundle.inputs.get("image", {}).get("spatial_shape")
    return len(shape) if isinstance(shape, list) and shape else None


def _check_overrides(overrides: dict[str, Any]) -> None:
    for key, value in overrides.items():
        if not isinstance(key, str) or not key or key.startswith(("_", "#")):
            raise UntrustedCodeError(f"override key {key!r} is not a config id")
        if _has_code(value):
            raise UntrustedCodeError(f"override {key!r}: values are plain data, without $, @ or % prefixes")
        if ReferenceResolver.normalize_id(key).split(ReferenceResolver.sep)[0] in (*NETWORK_KEYS, "network"):
            raise BundleConfigError(
                f"override {key!r}: the network is built from the bundle's own config before overrides apply, so "
                "it cannot be changed by an override (edit the bundle's inference config instead)"
            )


def _has_code(value: Any) -> bool:
    if isinstance(value, str):
        return value[:1] in "$@%"
    if isinstance(value, dict):
        return any(_has_code(k) or _has_code(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_code(v) for v in value)
    return False


def _folder_root(path: Path) -> Path | None:
    if not path.is_dir():
        return None
    if (path / "configs").is_dir():
        return path
    children = [c for c in path.iterdir() if (c / "configs").is_dir()]
    return children[0] if len(children) == 1 else None


def _config_path(root: Path) -> Path:
    found = next((root / "configs" / n for n in CONFIG_NAMES if (root / "configs" / n).is_file()), None)
    if found is None:
        raise BundleFileError(f"no inference config ({', '.join(CONFIG_NAMES)})", root / "configs")
    return found


def _raw(path: Path, *, root: Path, trusted: bool) -> dict[str, Any]:
    """The config as read, nothing evaluated (untrusted: the bounded reader, no YAML aliases, depth capped)."""
    from monai_ext.bundle.untrusted.parse import read_untrusted_config

    try:
        raw = ConfigParser.load_config_file(path) if trusted else read_untrusted_config(path, root=root)
    except BundleError:
        raise
    except (OSError, ValueError) as err:
        raise BundleFileError(f"cannot read the config ({err})", path) from err
    if not isinstance(raw, dict):
        raise BundleFileError("the inference config is not a mapping of keys", path)
    return dict(raw)
