"""Read a zoo inference config (raw, nothing evaluated) and plan how the runner runs it unchanged.

A MONAI Model Zoo ``inference`` config is written for ``python -m monai.bundle run``: its ``preprocessing``
starts by loading a file (``LoadImaged``, often followed by ``EnsureChannelFirstd``) and its
``postprocessing`` ends by writing one (``SaveImaged``). The runner reads the volume itself (DICOM, NIfTI,
NRRD, or a Slicer volume) and writes the outputs itself, so the plan lists:

* the loading head of ``preprocessing`` to replace by :func:`~monai_ext.bundle.zoo.feed.feed_volume`;
* the writers of ``postprocessing`` to skip, and the ``Lambdad`` steps after its discretisation (they only
  re-encode the discrete output, which the runner writes in the segmentation contract's form instead);
* config overrides that remove those steps, applied before anything is resolved, so an untrusted bundle never
  builds a reader or a writer;
* the activation (``softmax``/``sigmoid``) the postprocessing applies, for the probability maps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["LOADERS", "RUN_KEYS", "WRITERS", "LoadingHead", "ZooPlan", "plan_config", "short_name"]

RUN_KEYS = ("network_def", "preprocessing", "postprocessing", "inferer")  # the only keys the runner resolves
LOADERS = ("LoadImaged", "LoadImage")
CHANNEL_FIRST = ("EnsureChannelFirstd", "EnsureChannelFirst", "AddChanneld", "AddChannel")
WRITERS = ("SaveImaged", "SaveImage", "SaveClassificationd", "SaveClassification", "WriteFileMapping")
_DISCRETE = ("AsDiscreted", "AsDiscrete")
_RECODERS = ("Lambdad", "Lambda")


@dataclass(frozen=True)
class LoadingHead:
    """The loading steps at the head of ``preprocessing``.

    Attributes:
        steps: how many transforms the head holds (1 or 2).
        keys: the raw ``keys`` of the loader (a key, a list, or an ``@reference``: resolve it safely).
        image_only: ``False`` adds ``<key>_meta_dict`` beside the image, as ``LoadImaged(image_only=False)``.
        channel_first: the head ends channel-first (``EnsureChannelFirstd`` or ``ensure_channel_first``);
            otherwise a single-channel volume comes out without a channel axis, as ``LoadImaged`` gives it.
    """

    steps: int
    keys: Any
    image_only: bool
    channel_first: bool


@dataclass
class ZooPlan:
    """How to run a config: what to feed, what to skip, and the overrides that remove those steps.

    Attributes:
        loading: the loading head, or ``None`` (the config's preprocessing takes an image already loaded).
        overrides: ``{config id: new raw value}`` to set before the config is parsed.
        skipped: plain-text notes about each step left out.
        activation: ``"softmax"``, ``"sigmoid"`` or ``None``: the activation ``postprocessing`` applies.
        inverts: whether ``postprocessing`` holds ``Invertd`` (its outputs come back on the input's grid).
        code_targets: ``_target_`` names that live in the bundle's own ``scripts/`` folder.
    """

    loading: LoadingHead | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    activation: str | None = None
    inverts: bool = False
    code_targets: list[str] = field(default_factory=list)


def plan_config(config: dict[str, Any]) -> ZooPlan:
    """Plan the run of a raw (unparsed) inference config.

    Args:
        config: the config file's content as read (JSON/YAML), with no ``$`` or ``@`` evaluated.

    Returns:
        The plan; an empty plan for a config whose preprocessing has no loader (the project's own bundles).

    Example:
        >>> cfg = {"preprocessing": {"_target_": "Compose", "transforms": [
        ...     {"_target_": "LoadImaged", "keys": "image"}, {"_target_": "EnsureChannelFirstd", "keys": "image"},
        ...     {"_target_": "ScaleIntensityd", "keys": "image"}]}}
        >>> plan = plan_config(cfg)
        >>> plan.loading.steps, plan.overrides["preprocessing#transforms"]
        (2, [{'_target_': 'ScaleIntensityd', 'keys': 'image'}])
    """
    plan = ZooPlan(code_targets=sorted(_code_targets([config.get(k) for k in RUN_KEYS])))
    found = _transform_list(config, "preprocessing")
    if found is not None:
        list_id, steps = found
        plan.code_targets = sorted(set(plan.code_targets) | _code_targets(steps))
        head = _loading_head(steps)
        if head is not None:
            plan.loading = head
            plan.overrides[list_id] = steps[head.steps :]
    found = _transform_list(config, "postprocessing")
    if found is not None:
        list_id, steps = found
        plan.code_targets = sorted(set(plan.code_targets) | _code_targets(steps))
        kept = _postprocessing_steps(steps, plan)
        if len(kept) != len(steps):
            plan.overrides[list_id] = kept
    return plan


def short_name(target: Any) -> str:
    """``"monai.transforms.SaveImaged"`` -> ``"SaveImaged"``; ``""`` for anything but a plain string."""
    if not isinstance(target, str) or target[:1] in "$@%":
        return ""
    return target.rsplit(".", 1)[-1]


def _transform_list(config: dict[str, Any], key: str) -> tuple[str, list[Any]] | None:
    """The config id and raw value of the list of transforms that ``config[key]`` (a ``Compose``) holds."""
    compose = config.get(key)
    if not isinstance(compose, dict) or short_name(compose.get("_target_")) != "Compose":
        return None
    list_id, value = f"{key}#transforms", compose.get("transforms")
    if isinstance(value, str):  # "$@transforms" or "@transforms": the list lives under another key
        name = value.removeprefix("$").removeprefix("@")
        if value.lstrip("$").startswith("@") and name in config and "#" not in name and name.isidentifier():
            list_id, value = name, config[name]
    return (list_id, value) if isinstance(value, list) else None


def _loading_head(steps: list[Any]) -> LoadingHead | None:
    first = steps[0] if steps else None
    if not isinstance(first, dict) or short_name(first.get("_target_")) not in LOADERS:
        return None
    count, channel_first = 1, bool(first.get("ensure_channel_first", False))
    if len(steps) > 1 and isinstance(steps[1], dict) and short_name(steps[1].get("_target_")) in CHANNEL_FIRST:
        count, channel_first = 2, True
    image_only = first.get("image_only", True) not in (False, "false", "False", "$False")
    return LoadingHead(steps=count, keys=first.get("keys", "image"), image_only=image_only, channel_first=channel_first)


def _postprocessing_steps(steps: list[Any], plan: ZooPlan) -> list[Any]:
    kept: list[Any] = []
    discrete = False
    for index, step in enumerate(steps):
        name = short_name(step.get("_target_")) if isinstance(step, dict) else ""
        if name in WRITERS:
            plan.skipped.append(f"postprocessing step {index} ({name}): the runner writes the outputs itself")
            continue
        if name in _RECODERS and discrete:
            plan.skipped.append(
                f"postprocessing step {index} ({name}): it re-encodes the discrete output; the runner writes "
                "the label map or region masks of the segmentation contract instead"
            )
            continue
        discrete = discrete or name in _DISCRETE
        if name == "Activationsd" or name == "Activations":
            plan.activation = _activation(step) or plan.activation
        plan.inverts = plan.inverts or name == "Invertd"
        kept.append(step)
    return kept


def _activation(step: dict[str, Any]) -> str | None:
    for kind in ("softmax", "sigmoid"):
        if step.get(kind) in (True, "true", "True", "$True"):
            return kind
    return None


def _code_targets(node: Any) -> set[str]:
    """Every ``_target_`` under ``node`` that names bundle-local code (``scripts.``)."""
    found: set[str] = set()
    if isinstance(node, dict):
        target = node.get("_target_")
        if isinstance(target, str) and target.split(".", 1)[0] == "scripts":
            found.add(target)
        for value in node.values():
            found |= _code_targets(value)
    elif isinstance(node, list):
        for value in node:
            found |= _code_targets(value)
    return found
