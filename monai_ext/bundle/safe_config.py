"""Read a bundle config without running the bundle's code unless the user trusts it.

For an untrusted bundle only the config keys the runner asks for (and everything they reference) are
checked and then resolved, before anything is instantiated:

* every ``$`` expression must be in the data-only subset of :mod:`monai_ext.bundle.safe_expr` and is
  evaluated without ``eval``; ``$import`` lines are never executed;
* every ``_target_`` must be a plain name of a *class* that is a ``torch.nn.Module`` or a MONAI
  ``Transform``, defined in an allow-listed package (:data:`ALLOWED_PACKAGES`, minus
  :data:`DENIED_PACKAGES`: file readers and writers); functions, ``_mode_`` other than the default, and
  ``pretrained`` downloads are refused.

Keys the runner never reads are never evaluated. A trusted bundle resolves with MONAI's own parser.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import torch
from monai.bundle import ConfigParser
from monai.bundle.config_item import ComponentLocator, ConfigComponent, ConfigExpression, ConfigItem
from monai.bundle.reference_resolver import ReferenceResolver
from monai.transforms import Transform
from monai.utils.module import locate

from monai_ext.bundle.errors import BundleFileError, UntrustedCodeError
from monai_ext.bundle.safe_expr import REFS_NAME, UnsafeExpressionError, check_expression, evaluate_expression

__all__ = ["ALLOWED_PACKAGES", "DENIED_PACKAGES", "BundleConfig", "check_target"]

ALLOWED_PACKAGES = (
    "monai.networks.nets",
    "monai.networks.blocks",
    "monai.networks.layers",
    "monai.transforms",
    "monai_ext.networks",
    "monai_ext.transforms",
    "torch.nn",
)
DENIED_PACKAGES = ("monai.transforms.io",)
_LOCATOR = ComponentLocator()


def _in(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def check_target(target: Any) -> type:
    """Return the class an untrusted ``_target_`` names, or refuse it.

    Args:
        target: the raw ``_target_`` value: a MONAI short name (``"Resized"``) or a dotted path.

    Raises:
        UnsafeExpressionError: not a plain allow-listed class name (the message says why).
    """
    if not isinstance(target, str) or target[:1] in "$@%":
        raise UnsafeExpressionError(f"_target_ {target!r} must be a plain class name")
    module = _LOCATOR.get_component_module_name(target) if "." not in target else None
    if isinstance(module, list):
        module = module[0]
    full = f"{module}.{target}" if module else target
    if any(part.startswith("_") for part in full.split(".")):
        raise UnsafeExpressionError(f"_target_ {full!r} reaches a private name")
    if not _in(full, ALLOWED_PACKAGES) or _in(full, DENIED_PACKAGES):
        raise UnsafeExpressionError(f"_target_ {full!r} is outside the allow-list {list(ALLOWED_PACKAGES)}")
    obj = locate(full)
    if not inspect.isclass(obj) or not issubclass(obj, torch.nn.Module | Transform):
        raise UnsafeExpressionError(f"_target_ {full!r} is not a network or transform class")
    if not _in(obj.__module__, ALLOWED_PACKAGES) or _in(obj.__module__, DENIED_PACKAGES):
        raise UnsafeExpressionError(f"_target_ {full!r} is defined in {obj.__module__}, outside the allow-list")
    return obj


class _SafeExpression(ConfigExpression):
    """An expression evaluated by the safe evaluator; imports are inert."""

    def evaluate(self, globals: dict | None = None, locals: dict | None = None) -> Any:
        value = self.get_config()
        if not self.is_expression(value) or self.is_import_statement(value):
            return None
        refs = (globals or {}).get(REFS_NAME, {})
        return evaluate_expression(check_expression(value[len(self.prefix) :]), refs)


class _SafeComponent(ConfigComponent):
    """A component whose target is re-checked at instantiation."""

    def instantiate(self, **kwargs: Any) -> object:
        check_target(self.get_config().get("_target_"))
        return super().instantiate(**kwargs)


class BundleConfig:
    """One bundle config file, resolved key by key with or without trust.

    Args:
        path: the config file (JSON or YAML, read with MONAI's safe loaders).
        trusted: ``True`` resolves with MONAI (``$`` expressions run with ``eval``).
        overrides: plain values set before parsing (e.g. ``{"bundle_root": "..."}``).

    Raises:
        BundleFileError: the file is missing or not a valid config.
    """

    def __init__(self, path: str | Path, *, trusted: bool, overrides: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.trusted = trusted
        try:
            self.parser = ConfigParser(ConfigParser.load_config_file(self.path), globals=None if trusted else False)
        except (OSError, ValueError) as err:
            raise BundleFileError(f"cannot read the config ({err})", self.path) from err
        for key, value in (overrides or {}).items():
            self.parser[key] = value
        self.parser.parse(reset=True)
        self._resolver: ReferenceResolver = self.parser.ref_resolver
        if not trusted:
            self._make_safe()

    def __contains__(self, key: str) -> bool:
        return ReferenceResolver.normalize_id(key) in self._resolver.items

    def get(self, key: str) -> Any:
        """The resolved (instantiated) content of ``key``; untrusted keys are audited first.

        Raises:
            KeyError: no such key.
            UntrustedCodeError: the key, or something it references, is refused (names file and key).
        """
        if key not in self:
            raise KeyError(f"{self.path}: no key {key!r}")
        if not self.trusted:
            self.audit(key)
        try:
            return self._resolver.get_resolved_content(key)
        except UnsafeExpressionError as err:
            raise UntrustedCodeError(f"key {key!r}: {err}", self.path) from err

    def audit(self, *keys: str) -> None:
        """Check ``keys`` and everything they reference against the safe rules, without running anything.

        Raises:
            UntrustedCodeError: names the file, the key and what is refused.
        """
        pending = [ReferenceResolver.normalize_id(k) for k in keys]
        seen: set[str] = set()
        while pending:
            key = pending.pop()
            item = self._resolver.items.get(key)
            if key in seen or item is None:
                continue
            seen.add(key)
            try:
                self._audit_item(item)
            except UnsafeExpressionError as err:
                shown = str(item.get_config())[:120]
                raise UntrustedCodeError(f"untrusted bundle, key {key!r} ({shown}): {err}", self.path) from err
            pending.extend(ReferenceResolver.find_refs_in_config(item.get_config(), key))

    def _audit_item(self, item: ConfigItem) -> None:
        config = item.get_config()
        if isinstance(item, ConfigComponent):
            check_target(config.get("_target_"))
            if config.get("_mode_", "default") != "default":
                raise UnsafeExpressionError(f"_mode_ {config['_mode_']!r} is not allowed")
            if config.get("pretrained") not in (None, False):
                raise UnsafeExpressionError("pretrained weights would be downloaded; set pretrained to false")
        elif isinstance(item, ConfigExpression) and not item.is_import_statement(config):
            # an expression's @refs only need to exist: they become __local_refs['id'] text, nothing is looked up
            check_expression(ReferenceResolver.update_refs_pattern(config, self._resolver.items)[len(item.prefix) :])

    def _make_safe(self) -> None:
        items = self._resolver.items
        for key, item in list(items.items()):
            if isinstance(item, ConfigExpression):
                items[key] = _SafeExpression(config=item.get_config(), id=key)
            elif isinstance(item, ConfigComponent):
                items[key] = _SafeComponent(config=item.get_config(), id=key, locator=_LOCATOR)
