"""Read a bundle config without running the bundle's code unless the user trusts it.

For an untrusted bundle only the config keys the runner asks for (and everything they reference) are
checked and then resolved, before anything is instantiated:

* the file is parsed by :mod:`monai_ext.bundle.untrusted.parse` (depth-checked JSON, YAML without aliases,
  anchors or tags, ``%`` macros only to files inside the bundle);
* every ``$`` expression must be in the data-only subset of :mod:`monai_ext.bundle.untrusted.safe_expr` and is
  evaluated without ``eval``; ``$import`` lines are never executed;
* every ``_target_`` must name a class of the reviewed allow-list (:file:`policy/allowlist.yaml`) with the
  role the key asks for (a network under ``network_def``, transforms under ``preprocessing``), and every
  argument set must be one the list admits, with a value of the admitted kind; the class is then built
  directly (MONAI's locator is not used), a network first on the meta device to check its parameter count.

Keys the runner never reads are never evaluated. A trusted bundle resolves with MONAI's own parser.
"""

from __future__ import annotations

import inspect
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from monai.bundle import ConfigParser
from monai.bundle.config_item import ComponentLocator, ConfigComponent, ConfigExpression, ConfigItem
from monai.bundle.reference_resolver import ReferenceResolver

from monai_ext.bundle.errors import (
    BundleConfigError,
    BundleError,
    BundleFileError,
    BundleLimitError,
    UntrustedCodeError,
)
from monai_ext.bundle.policy import ArgRule, Policy, ReviewedClass, load_policy
from monai_ext.bundle.policy.kinds import check_product, check_value
from monai_ext.bundle.untrusted.safe_expr import (
    REFS_NAME,
    ExpressionContext,
    ExpressionLimitError,
    ExpressionValueError,
    UnsafeExpressionError,
    check_expression,
    evaluate_expression,
)

__all__ = ["KEY_ROLES", "VALUE_ROLE", "BundleConfig", "check_target", "reviewed_class"]

KEY_ROLES = {
    "network_def": "network",
    "generator_def": "network",
    "discriminator_def": "network",
    "preprocessing": "transform",
    "postprocessing": "transform",
    "inferer": "inferer",
}
VALUE_ROLE = "value"  # any other key: plain values only, nothing is built (no network behind voxel_size_mm)
META_KEYS = ("_target_", "_disabled_", "_desc_", "_mode_")
MAX_REFERENCE_DEPTH = 64
_LOCATOR = ComponentLocator()


def reviewed_class(target: Any, *, role: str | None = None, policy: Policy | None = None) -> ReviewedClass:
    """The allow-list entry an untrusted ``_target_`` names, or refuse it. Nothing is imported.

    Args:
        target: the raw ``_target_`` value: a MONAI short name (``"Resized"``) or a dotted path.
        role: ``"network"``, ``"transform"`` or ``"inferer"`` when the key asks for one.
        policy: default: the packaged allow-list.

    Raises:
        UnsafeExpressionError: not a plain name of a reviewed class (with that role); the message says why.
    """
    policy = policy or load_policy()
    if not isinstance(target, str) or not target or target[:1] in "$@%":
        raise UnsafeExpressionError(f"_target_ {target!r} must be a plain class name")
    if any(part.startswith("_") for part in target.split(".")):
        raise UnsafeExpressionError(f"_target_ {target!r} reaches a private name")
    entry = policy.lookup(target)
    if entry is None:
        raise UnsafeExpressionError(f"_target_ {target!r} is outside the allow-list (policy/allowlist.yaml)")
    if role is not None and entry.role != role:
        raise UnsafeExpressionError(f"_target_ {target!r} is a {entry.role}; only a {role} is allowed here")
    module = entry.cls.__module__
    if module.startswith("monai.transforms.io") or not module.startswith(entry.path.split(".")[0] + "."):
        raise UnsafeExpressionError(f"_target_ {target!r} is defined in {module}, outside the allow-list")
    return entry


def check_target(target: Any, *, role: str | None = None) -> type:
    """The class an untrusted ``_target_`` names, or refuse it (see :func:`reviewed_class`)."""
    return reviewed_class(target, role=role).cls


@dataclass(frozen=True)
class _Context:
    policy: Policy
    expressions: ExpressionContext
    parameter_budget: int


class _BuildError(ValueError):
    """A reviewed class refused its (checked) arguments; the message says which and why."""


class _SafeExpression(ConfigExpression):
    """An expression evaluated by the safe evaluator; imports are inert."""

    context: _Context

    def evaluate(self, globals: dict | None = None, locals: dict | None = None) -> Any:
        value = self.get_config()
        if not self.is_expression(value) or self.is_import_statement(value):
            return None
        refs = (globals or {}).get(REFS_NAME, {})
        tree = check_expression(value[len(self.prefix) :])
        try:
            return evaluate_expression(tree, refs, self.context.expressions)
        except UnsafeExpressionError as err:  # name the item that failed, not only the key asked for
            raise type(err)(f"item {self.id!r} ({value[:80]}): {err}") from err


class _SafeComponent(ConfigComponent):
    """A component built from its reviewed class with checked arguments (never through MONAI's locator)."""

    context: _Context

    def instantiate(self, **kwargs: Any) -> object:
        config = self.get_config()
        if not self.is_instantiable(config) or self.is_disabled():
            return None
        entry = reviewed_class(config.get("_target_"), policy=self.context.policy)
        args = {k: v for k, v in config.items() if k not in META_KEYS} | kwargs
        try:
            for name, value in args.items():
                _check_argument(entry, name)
                check_value(entry.args[name], value, self.context.policy)
            check_product(entry.bounded_product, args, self.context.policy)
            if entry.role == "network":
                _check_parameters(entry, args, self.context.policy, self.context.parameter_budget)
        except UnsafeExpressionError as err:
            raise type(err)(f"item {self.id!r}: {err}") from err
        try:
            return entry.cls(**args)
        except Exception as err:  # the class's own argument checks (ValueError, TypeError, AssertionError ...)
            message = f"item {self.id!r}: {entry.path} refused its arguments ({type(err).__name__}: {_first_line(err)})"
            raise _BuildError(message) from err


def _check_argument(entry: ReviewedClass, name: str) -> None:
    if name in entry.args:
        return
    if name in entry.refused:
        raise UnsafeExpressionError(f"{entry.path} argument {name!r} is refused: {entry.refused[name]}")
    raise UnsafeExpressionError(f"{entry.path} has no argument {name!r} (unknown keyword)")


def _check_parameters(entry: ReviewedClass, args: dict[str, Any], policy: Policy, budget: int) -> None:
    """Build the network on the meta device (no memory) and refuse it above ``budget`` parameters.

    A generator (``entry.probe``) also generates one volume there; its size is bounded like any spatial size.
    """
    try:
        with torch.device("meta"):
            probe = entry.cls(**args)
    except Exception as err:
        raise _BuildError(f"{entry.path} refused its arguments ({type(err).__name__}: {_first_line(err)})") from err
    count = sum(p.numel() for p in probe.parameters()) + sum(b.numel() for b in probe.buffers())
    if count > budget:
        raise ExpressionLimitError(f"{entry.path} would hold {count:.3g} parameters, above the budget of {budget:.3g}")
    if entry.probe is None:
        return
    latent = args.get(entry.probe, inspect.signature(entry.cls).parameters[entry.probe].default)
    try:
        with torch.no_grad():
            shape = tuple(probe(torch.empty((1, int(latent)), device="meta")).shape)
    except Exception as err:
        raise _BuildError(
            f"{entry.path} cannot generate from a latent ({type(err).__name__}: {_first_line(err)})"
        ) from err
    try:
        check_value(ArgRule("generated size", "size"), list(shape[2:]), policy)
    except UnsafeExpressionError as err:
        raise ExpressionLimitError(f"{entry.path}: {err}") from err


def _first_line(err: BaseException) -> str:
    return (str(err).splitlines() or [""])[0][:300]


class BundleConfig:
    """One bundle config file, resolved key by key with or without trust.

    Args:
        path: the config file (JSON or YAML).
        trusted: ``True`` resolves with MONAI (``$`` expressions run with ``eval``, ``%`` macros read any file).
        overrides: plain values set before parsing (e.g. ``{"bundle_root": "..."}``).
        root: the bundle folder: untrusted ``%`` macros may only read config files inside it (default: the
            config's grandparent, ``<bundle>/configs/x.json``).
        device: what an untrusted expression's ``torch.device(...)`` evaluates to.
        parameter_budget: the most parameters an untrusted network may have (default: the policy's).

    Raises:
        BundleFileError: the file is missing or not a valid config (names the file and the reason).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        trusted: bool,
        overrides: dict[str, Any] | None = None,
        root: str | Path | None = None,
        device: torch.device | str = "cpu",
        parameter_budget: int | None = None,
    ) -> None:
        from monai_ext.bundle.untrusted.parse import read_untrusted_config

        self.path = Path(path)
        self.trusted = trusted
        policy = load_policy()
        self._context = _Context(
            policy=policy,
            expressions=ExpressionContext(device=torch.device(device)),
            parameter_budget=int(parameter_budget or policy.limits.parameter_budget),
        )
        try:
            if trusted:
                content = ConfigParser.load_config_file(self.path)
            else:
                content = read_untrusted_config(self.path, root=Path(root) if root else self.path.parent.parent)
            self.parser = ConfigParser(content, globals=None if trusted else False)
            for key, value in (overrides or {}).items():
                self.parser[key] = value
            self.parser.parse(reset=True)
        except BundleError:
            raise
        except (OSError, ValueError, TypeError, KeyError) as err:
            raise BundleFileError(f"cannot read the config ({type(err).__name__}: {_first_line(err)})", path) from err
        self._resolver: ReferenceResolver = self.parser.ref_resolver
        if not trusted:
            self._make_safe()

    def __contains__(self, key: str) -> bool:
        return ReferenceResolver.normalize_id(key) in self._resolver.items

    @property
    def policy(self) -> Policy:
        """The allow-list this config is checked against."""
        return self._context.policy

    def get(self, key: str, *, role: str | None = None) -> Any:
        """The resolved (instantiated) content of ``key``; untrusted keys are audited first.

        Args:
            key: the config key (``"network_def"``, ``"preprocessing::transforms::0"``).
            role: what the key may build when untrusted: ``"network"``, ``"transform"``, ``"inferer"`` or
                ``"value"`` (nothing). Default: :data:`KEY_ROLES`, and ``"value"`` for any other key.

        Raises:
            KeyError: no such key.
            UntrustedCodeError: the key, or something it references, is refused (names file and key).
            BundleConfigError: a value is wrong (a bad argument, a missing reference, a division by zero).
        """
        if key not in self:
            raise KeyError(f"{self.path}: no key {key!r}")
        if not self.trusted:
            self.audit(key, role=role)
        try:
            return self._resolver.get_resolved_content(key)
        except ExpressionLimitError as err:
            raise BundleLimitError(f"key {key!r}: {err}", self.path) from err
        except ExpressionValueError as err:
            raise BundleConfigError(f"key {key!r}: {err}", self.path) from err
        except UnsafeExpressionError as err:
            raise UntrustedCodeError(f"key {key!r}: {err}", self.path) from err
        except _BuildError as err:
            raise BundleConfigError(f"key {key!r}: {err}", self.path) from err
        except RecursionError as err:
            raise BundleConfigError(f"key {key!r}: references nest too deeply", self.path) from err
        except (ValueError, KeyError, TypeError) as err:  # MONAI's resolver: missing or circular references
            raise BundleConfigError(f"key {key!r}: {_first_line(err)}", self.path) from err
        except Exception as err:
            if self.trusted:  # the bundle's own code failed
                raise BundleConfigError(
                    f"key {key!r} failed ({type(err).__name__}: {_first_line(err)})", self.path
                ) from err
            raise

    def audit(self, *keys: str, role: str | None = None) -> None:
        """Check ``keys`` and everything they reference against the safe rules, without running anything.

        A key (and everything it references) may only build classes of its role: ``role``, else its
        :data:`KEY_ROLES` entry, else none at all (plain values).

        Raises:
            UntrustedCodeError: names the file, the key and what is refused.
            BundleConfigError: a referenced key does not exist.
        """
        pending = deque((ReferenceResolver.normalize_id(k), role or KEY_ROLES.get(k, VALUE_ROLE), 0, k) for k in keys)
        seen: set[tuple[str, str | None]] = set()
        while pending:  # breadth first: the nearest offending item is the one reported
            key, role, depth, root = pending.popleft()
            item = self._resolver.items.get(key)
            if (key, role) in seen:
                continue
            if item is None:
                raise BundleConfigError(f"a reference to @{key}, which the config does not define", self.path)
            if depth > MAX_REFERENCE_DEPTH:
                raise UntrustedCodeError(
                    f"key {key!r}: references nest more than {MAX_REFERENCE_DEPTH} deep", self.path
                )
            seen.add((key, role))
            try:
                self._audit_item(item, role)
            except KeyError as err:  # an expression's @reference to a key that does not exist
                raise BundleConfigError(f"key {key!r}: {str(err).strip(chr(34))}", self.path) from err
            except UnsafeExpressionError as err:
                shown = str(item.get_config())[:120]
                via = "" if key.startswith(root) else f", referenced from key {root!r}"
                message = f"untrusted bundle, key {key!r} ({shown}){via}: {err}"
                raise UntrustedCodeError(message, self.path) from err
            refs = ReferenceResolver.find_refs_in_config(item.get_config(), key)
            pending.extend((ref, role, depth + 1, root) for ref in refs)

    def _audit_item(self, item: ConfigItem, role: str | None) -> None:
        config = item.get_config()
        if isinstance(item, ConfigComponent):
            if role == VALUE_ROLE:
                raise UnsafeExpressionError(f"builds {config.get('_target_')!r:.80}, but this key may only hold values")
            entry = reviewed_class(config.get("_target_"), role=role, policy=self._context.policy)
            if config.get("_mode_", "default") != "default":
                raise UnsafeExpressionError(f"_mode_ {config['_mode_']!r} is not allowed")
            if "_requires_" in config:
                raise UnsafeExpressionError("_requires_ is not allowed")
            for name in config:
                if name not in META_KEYS:
                    _check_argument(entry, name)
        elif isinstance(item, ConfigExpression) and not item.is_import_statement(config):
            missing = [ref for ref in ReferenceResolver.match_refs_pattern(config) if ref not in self._resolver.items]
            if missing:
                raise BundleConfigError(
                    f"key {item.get_id()!r}: a reference to @{missing[0]}, which the config does not define", self.path
                )
            # an expression's @refs only need to exist: they become __local_refs['id'] text, nothing is looked up
            check_expression(ReferenceResolver.update_refs_pattern(config, self._resolver.items)[len(item.prefix) :])

    def _make_safe(self) -> None:
        items = self._resolver.items
        for key, item in list(items.items()):
            if isinstance(item, ConfigExpression):
                safe: ConfigItem = _SafeExpression(config=item.get_config(), id=key)
            elif isinstance(item, ConfigComponent):
                safe = _SafeComponent(config=item.get_config(), id=key, locator=_LOCATOR)
            else:
                continue
            safe.context = self._context  # type: ignore[attr-defined]
            items[key] = safe
