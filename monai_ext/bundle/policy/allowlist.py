"""Typed records of :file:`allowlist.yaml`: reviewed classes, their arguments, and the global limits.

Example:
    >>> policy = load_policy()
    >>> entry = policy.lookup("Resized", role="transform")
    >>> entry.path, entry.args["spatial_size"].kind
    ('monai.transforms.Resized', 'size')
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["POLICY_PATH", "ROLES", "ArgRule", "Limits", "Policy", "PolicyFileError", "ReviewedClass", "load_policy"]

POLICY_PATH = Path(__file__).resolve().parent / "allowlist.yaml"
ROLES = {"networks": "network", "transforms": "transform", "inferers": "inferer"}
_DENIED_MODULES = ("monai.transforms.io", "monai.data", "monai.apps", "monai.bundle", "monai.handlers", "monai.engines")


class PolicyFileError(RuntimeError):
    """The policy file itself is broken (a developer error, never caused by a bundle)."""


@dataclass(frozen=True)
class ArgRule:
    """What one constructor argument may be set to.

    Attributes:
        name: the argument.
        kind: one of :data:`~monai_ext.bundle.policy.kinds.KINDS`.
        minimum: lower bound for numeric kinds (``None``: the kind's default).
        maximum: upper bound for numeric kinds.
        values: the admitted values of a ``choice``.
    """

    name: str
    kind: str
    minimum: float | None = None
    maximum: float | None = None
    values: tuple[Any, ...] = ()


@dataclass(frozen=True)
class ReviewedClass:
    """One admitted class.

    Attributes:
        path: its public dotted path (``monai.transforms.Resized``).
        role: ``"network"``, ``"transform"`` or ``"inferer"``.
        review: the one-line review note.
        args: the arguments a config may set.
        refused: the arguments it may not set, with the reason.
        cls: the class.
        probe: for a generator, the argument giving its latent size: a ``(1, latent)`` input is run through
            the network on the meta device and the size of what it generates is bounded like any spatial size.
        bounded_product: arguments whose values multiply into one allocation (a sliding window's roi voxels
            times its batch); their product is bounded by :attr:`Limits.max_voxels`.
    """

    path: str
    role: str
    review: str
    args: Mapping[str, ArgRule]
    refused: Mapping[str, str]
    cls: type
    probe: str | None = None
    bounded_product: tuple[str, ...] = ()

    @property
    def defining_path(self) -> str:
        """``module.qualname`` where the class is defined (MONAI's locator uses it)."""
        return f"{self.cls.__module__}.{self.cls.__qualname__}"


@dataclass(frozen=True)
class Limits:
    """Global caps of the policy (see the ``limits`` section of the file)."""

    parameter_budget: int
    max_side: int
    max_voxels: int
    min_spacing_mm: float
    max_spacing_mm: float
    latent_channels: int
    name_pattern: str
    max_name_length: int

    def valid_name(self, name: object) -> bool:
        """Whether ``name`` may become a data key or an output file name."""
        return (
            isinstance(name, str)
            and len(name) <= self.max_name_length
            and re.fullmatch(self.name_pattern, name) is not None
        )


@dataclass(frozen=True)
class Policy:
    """The whole allow-list: limits and reviewed classes, looked up by any spelling a config may use."""

    limits: Limits
    classes: Mapping[str, ReviewedClass]
    _names: Mapping[str, ReviewedClass]

    def lookup(self, target: str, *, role: str | None = None) -> ReviewedClass | None:
        """The reviewed class a ``_target_`` string names, or ``None``.

        Accepted spellings: the public path, the defining module path, and for MONAI classes the short
        name (``"Resized"``), as MONAI's component locator would resolve it. Nothing is imported.

        Args:
            target: the ``_target_`` text.
            role: when given, the class must have this role.
        """
        entry = self._names.get(target)
        if entry is None or (role is not None and entry.role != role):
            return None
        return entry

    def admits(self, obj: object, role: str | None = None) -> bool:
        """Whether ``obj`` is an instance of an admitted class (with ``role`` when given)."""
        return any(type(obj) is e.cls and (role is None or e.role == role) for e in self.classes.values())


def load_policy(path: str | Path | None = None) -> Policy:
    """Read the policy file (the packaged one by default, read once and cached).

    Raises:
        PolicyFileError: the file is malformed or names a class that cannot be admitted.
    """
    return _load(str(path or POLICY_PATH))


@functools.cache
def _load(path: str) -> Policy:
    from monai_ext.bundle.policy.kinds import KINDS

    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    try:
        limits = Limits(**raw["limits"])
    except (KeyError, TypeError) as err:
        raise PolicyFileError(f"{path}: bad limits section ({err})") from err
    classes: dict[str, ReviewedClass] = {}
    for section, role in ROLES.items():
        for dotted, body in (raw.get(section) or {}).items():
            entry = _entry(path, dotted, role, body or {}, KINDS)
            classes[dotted] = entry
    return Policy(limits=limits, classes=classes, _names=_spellings(classes))


def _entry(path: str, dotted: str, role: str, body: Mapping[str, Any], kinds: tuple[str, ...]) -> ReviewedClass:
    args: dict[str, ArgRule] = {}
    for name, spec in (body.get("args") or {}).items():
        spec = {"kind": spec} if isinstance(spec, str) else dict(spec)
        if spec.get("kind") not in kinds:
            raise PolicyFileError(f"{path}: {dotted}.{name}: unknown kind {spec.get('kind')!r}")
        values = tuple(spec.get("values", ()))
        bounds = (spec.get("min"), spec.get("max"))
        if not all(b is None or (isinstance(b, int | float) and not isinstance(b, bool)) for b in bounds):
            raise PolicyFileError(f"{path}: {dotted}.{name}: min/max must be numbers, got {bounds}")
        args[name] = ArgRule(name, spec["kind"], bounds[0], bounds[1], values)
    refused = {str(k): str(v) for k, v in (body.get("refused") or {}).items()}
    if overlap := set(args) & set(refused):
        raise PolicyFileError(f"{path}: {dotted}: {sorted(overlap)} both admitted and refused")
    cls = _locate(path, dotted, role)
    probe = body.get("probe")
    if probe is not None and probe not in args:
        raise PolicyFileError(f"{path}: {dotted}: probe {probe!r} is not an admitted argument")
    product = tuple(body.get("bounded_product") or ())
    if not set(product) <= set(args):
        raise PolicyFileError(f"{path}: {dotted}: bounded_product {product} names arguments it does not admit")
    return ReviewedClass(dotted, role, str(body.get("review", "")), args, refused, cls, probe, product)


def _locate(path: str, dotted: str, role: str) -> type:
    module_name, _, name = dotted.rpartition(".")
    if any(part.startswith("_") for part in dotted.split(".")):
        raise PolicyFileError(f"{path}: {dotted} is a private name")
    cls = getattr(importlib.import_module(module_name), name, None)
    if not isinstance(cls, type) or not issubclass(cls, _base(role)):
        raise PolicyFileError(f"{path}: {dotted} is not a {role} class")
    defining = cls.__module__
    top = dotted.split(".")[0]
    denied = any(defining == d or defining.startswith(d + ".") for d in _DENIED_MODULES)
    if not defining.startswith(top + ".") or denied:  # a re-export of a reader/writer from elsewhere
        raise PolicyFileError(f"{path}: {dotted} is defined in {defining}, outside {top} or in a denied module")
    return cls


def _base(role: str) -> type | tuple[type, ...]:
    import torch
    from monai.inferers import Inferer
    from monai.transforms import Transform

    return {"network": torch.nn.Module, "transform": Transform, "inferer": Inferer}[role]


def _spellings(classes: Mapping[str, ReviewedClass]) -> dict[str, ReviewedClass]:
    names: dict[str, ReviewedClass] = {}
    for entry in classes.values():
        names[entry.path] = entry
        names[entry.defining_path] = entry
        if entry.path.startswith("monai."):  # MONAI's locator resolves short names to monai.* only
            names.setdefault(entry.cls.__name__, entry)
    return names
