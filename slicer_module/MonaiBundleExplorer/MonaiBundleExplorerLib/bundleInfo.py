"""Read what the GUI shows about a bundle from its ``configs/metadata.json`` (folder or zip; offline, no code run)."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

METADATA = "configs/metadata.json"


@dataclass
class BundleInfo:
    path: Path
    name: str
    version: str = ""
    task: str = ""
    description: str = ""
    inputs: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)
    classNames: list[str] = field(default_factory=list)
    licence: str = ""
    metrics: dict = field(default_factory=dict)
    kind: str = ""
    dataSource: str = ""
    takesMask: bool = False  # the input is a binary mask: a segment of a segmentation node can be the input
    segmentNames: list[str] = field(default_factory=list)  # labels of segmentation outputs (background excluded)


def readMetadata(bundlePath: str | Path) -> dict:
    """The bundle's metadata as a dict; raises ``ValueError`` with a plain message when it cannot be read."""
    path = Path(bundlePath)
    try:
        if path.is_file() and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = [name for name in archive.namelist() if name.endswith(METADATA)]
                if not names:
                    raise ValueError(f"{path.name} holds no {METADATA}")
                return json.loads(archive.read(min(names, key=len)).decode("utf-8"))
        return json.loads((path / METADATA).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, zipfile.BadZipFile) as exc:
        raise ValueError(f"Cannot read the metadata of bundle {path}: {exc}") from exc


def readBundleInfo(bundlePath: str | Path) -> BundleInfo:
    metadata = readMetadata(bundlePath)
    network = metadata.get("network_data_format", {})
    outputs = network.get("outputs", {})
    classNames = metadata.get("class_names") or next(
        (
            list(output.get("channel_def", {}).values())
            for output in outputs.values()
            if output.get("type") == "probabilities" and output.get("channel_def")
        ),
        [],
    )
    return BundleInfo(
        path=Path(bundlePath),
        name=str(metadata.get("name") or Path(bundlePath).stem),
        version=str(metadata.get("version", "")),
        task=str(metadata.get("task", "")),
        description=str(metadata.get("description", "")),
        inputs=network.get("inputs", {}),
        outputs=outputs,
        classNames=[str(name) for name in classNames],
        licence=str(metadata.get("license") or metadata.get("licence", "")),
        metrics=metadata.get("eval_metrics") or metadata.get("metrics") or metadata.get("performance") or {},
        kind=bundleKind(network),
        dataSource=str(metadata.get("data_source", "")),
        takesMask=any(isMaskInput(spec) for spec in network.get("inputs", {}).values()),
        segmentNames=segmentLabelNames(outputs),
    )


def segmentLabelNames(outputs: dict) -> list[str]:
    """Names of the labels of ``type: segmentation`` outputs (``labels`` or ``channel_def``), background left out."""
    names: list[str] = []
    for spec in outputs.values():
        if not isinstance(spec, dict) or spec.get("type") != "segmentation":
            continue
        labels = spec.get("labels") or spec.get("channel_def") or {}
        for value, name in sorted(labels.items(), key=lambda item: int(item[0]) if str(item[0]).isdigit() else 0):
            if str(value) != "0" and str(name).lower() != "background" and str(name) not in names:
                names.append(str(name))
    return names


MASK_WORDS = ("mask", "segmentation", "label")


def isMaskInput(spec) -> bool:
    """An input declared as a mask/label map (``format`` or ``modality`` says so), e.g. "CT-derived shape mask"."""
    if not isinstance(spec, dict):
        return False
    text = f"{spec.get('format', '')} {spec.get('modality', '')} {spec.get('type', '')}".lower()
    return any(word in text for word in MASK_WORDS)


def bundleKind(network: dict) -> str:
    """ "classifier", "segmentation", "generator" (latent input) or "image-to-image", from inputs and outputs."""
    if any(spec.get("type") == "probabilities" for spec in network.get("outputs", {}).values()):
        return "classifier"
    if any(spec.get("type") == "segmentation" for spec in network.get("outputs", {}).values()):
        return "segmentation"
    if any(spec.get("type") == "latent" for spec in network.get("inputs", {}).values()):
        return "generator"
    return "image-to-image"


def findBundles(roots) -> list[Path]:
    """Bundle folders and zips directly under each root (a root may itself be a bundle), sorted by name."""
    found: list[Path] = []
    for root in map(Path, roots):
        candidates = [root] if _isBundle(root) else sorted(root.iterdir()) if root.is_dir() else []
        found += [candidate for candidate in candidates if _isBundle(candidate)]
    return sorted(set(found), key=lambda path: path.name.lower())


def summary(info: BundleInfo, trusted: bool) -> str:
    """Plain-text lines for the bundle info area (translation happens in the widget)."""
    lines = [f"{info.name} {info.version}".strip(), f"Task: {info.task or 'not stated'}", f"Kind: {info.kind}"]
    lines += [f"Input {name}: {_describe(spec)}" for name, spec in info.inputs.items()]
    lines += [f"Output {name}: {_describe(spec)}" for name, spec in info.outputs.items()]
    lines.append("Classes: " + (", ".join(info.classNames) or "not stated"))
    if info.segmentNames:
        lines.append("Segments: " + ", ".join(info.segmentNames))
    if info.takesMask:
        lines.append("Input: a mask (a segment of a segmentation can be the input)")
    lines.append(f"Licence: {info.licence or 'not stated'}")
    if info.dataSource:
        lines.append(f"Training data: {info.dataSource}")
    lines += [f"Metric {name}: {value}" for name, value in info.metrics.items()]
    lines.append("Trusted: configs may run code" if trusted else "Not trusted: runs with safe loading (no code)")
    return "\n".join(lines)


def _describe(spec) -> str:
    if not isinstance(spec, dict):
        return str(spec)
    keys = ("type", "format", "num_channels", "spatial_shape", "dtype", "value_range")
    return ", ".join(f"{key}={spec[key]}" for key in keys if key in spec)


def _isBundle(path: Path) -> bool:
    if path.is_dir():
        return (path / METADATA).is_file()
    return path.suffix == ".zip" and path.is_file()
