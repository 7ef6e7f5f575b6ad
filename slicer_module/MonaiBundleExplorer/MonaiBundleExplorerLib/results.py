"""Turn worker results into rows: the class-probability table and the batch CSV (pure Python)."""

from __future__ import annotations

import csv
from pathlib import Path


def probabilityRows(result: dict) -> list[tuple[str, float]]:
    """``(class name, probability)`` pairs; unnamed classes become ``class 0``, ``class 1``..."""
    probabilities = [float(value) for value in result.get("probabilities") or []]
    names = list(result.get("classNames") or [])
    names += [f"class {index}" for index in range(len(names), len(probabilities))]
    return list(zip(names, probabilities))  # names were padded to the same length


def segmentProbabilityMaps(result: dict) -> dict:
    """Segment name -> probability map path of every label in ``result["segmentations"]`` that has one.

    Names are made unique across outputs (``"<output>: <name>"`` when two outputs share a label name).
    """
    found: dict = {}
    for outputName, output in (result.get("segmentations") or {}).items():
        for label in (output or {}).get("labels") or []:
            path = label.get("probability_map") if isinstance(label, dict) else None
            if not path:
                continue
            name = str(label.get("name") or f"label {label.get('value')}")
            found[name if name not in found else f"{outputName}: {name}"] = str(path)
    return found


def protectionsSummary(result: dict) -> str:
    """One line on the worker's sandbox from ``result["protections"]`` ("" when the runner reported none).

    ``"sandbox: 7/7 protections active"``, ``"sandbox: 5/7 protections active (off: seccomp, landlock_scope)"``, or
    ``"sandbox: off (<reason>)"`` for a trusted bundle or a platform without a kernel sandbox.
    """
    result = result or {}
    batchItems = [item.get("protections") for item in result.get("items") or [] if item.get("protections")]
    found = result.get("protections") or next(iter(batchItems), None)  # a batch: its first item's worker
    if not isinstance(found, dict) or not isinstance(found.get("items"), dict):
        return ""
    protections = found["items"]
    active = [name for name, item in protections.items() if (item or {}).get("active")]
    if not active:
        reasons = [str((item or {}).get("detail") or "") for item in protections.values()]
        reason = next((text for text in reasons if text), "no protection is active")
        return f"sandbox: off ({reason})"
    off = [name for name in protections if name not in active]
    line = f"sandbox: {len(active)}/{len(protections)} protections active"
    return line + (f" (off: {', '.join(off)})" if off else "")


def warningsSummary(result: dict, shown: int = 3, width: int = 300) -> str:
    """The runner's warnings of ``result["warnings"]`` in one line ("" when there are none).

    Repeats are dropped, each warning is cut at ``width`` characters and at most ``shown`` are listed, e.g.
    ``"note: the gradcam heatmap is empty: ..."``; more become ``"(and 2 more in result.json)"``.
    """
    found = (result or {}).get("warnings") or []
    unique = []
    for warning in found if isinstance(found, list) else []:
        text = " ".join(str(warning).split())
        text = text if len(text) <= width else text[: width - 3] + "..."
        if text and text not in unique:
            unique.append(text)
    if not unique:
        return ""
    more = f" (and {len(unique) - shown} more in result.json)" if len(unique) > shown else ""
    return "note: " + "; ".join(unique[:shown]) + more


def heatmapNodeName(result: dict, baseName: str, mapName: str = "heatmap") -> str:
    """The overlaid map's node name; the classifier's ``heatmap`` names the method that made it when reported.

    ``"CT adrenal_gland_left occlusion heatmap"``: after an empty Grad-CAM map the runner may have used its
    fallback method (``result["heatmap_method"]``), and the name must not let the map pass for a Grad-CAM one.
    """
    method = (result or {}).get("heatmap_method") if mapName == "heatmap" else None
    return f"{baseName} {method} heatmap" if isinstance(method, str) and method else f"{baseName} heatmap"


def predictedClass(result: dict) -> str:
    rows = probabilityRows(result)
    return max(rows, key=lambda row: row[1])[0] if rows else ""


def batchRows(items: list[dict]) -> tuple[list[str], list[dict]]:
    """Header and rows for a batch: input, status, predicted class, one column per class, segment volumes, the
    heatmap's method (when the runner reports one: a fallback can change it per volume), map paths, error."""
    classNames: list[str] = []
    mapNames: list[str] = []
    volumeNames: list[str] = []
    for item in items:
        classNames += [name for name, _ in probabilityRows(item) if name not in classNames]
        mapNames += [name for name in item.get("maps") or {} if name not in mapNames]
        volumeNames += [name for name in segmentVolumes(item) if name not in volumeNames]
    methods = ["heatmap_method"] if any(item.get("heatmap_method") for item in items) else []
    header = ["input", "status", "predicted", *classNames, *volumeNames, *methods]
    header += [f"map:{name}" for name in mapNames] + ["error"]
    rows = []
    for item in items:
        error = item.get("error") or {}
        row = {
            "input": item.get("inputPath", ""),
            "status": "error" if error else "ok",
            "error": error.get("message", ""),
        }
        row["predicted"] = predictedClass(item)
        if methods:
            row["heatmap_method"] = str(item.get("heatmap_method") or "")
        row.update({name: f"{value:.6g}" for name, value in probabilityRows(item)})
        row.update({name: f"{value:.6g}" for name, value in segmentVolumes(item).items()})
        row.update({f"map:{name}": path for name, path in (item.get("maps") or {}).items()})
        rows.append(row)
    return header, rows


def segmentVolumes(result: dict) -> dict:
    """``"mm3:<output>:<label>"`` -> volume in mm³ of every label of ``result["segmentations"]`` (for the CSV)."""
    volumes = {}
    for outputName, output in (result.get("segmentations") or {}).items():
        for label in (output or {}).get("labels") or []:
            if isinstance(label, dict) and label.get("volume_mm3") is not None:
                name = label.get("name") or f"label {label.get('value')}"
                volumes[f"mm3:{outputName}:{name}"] = float(label["volume_mm3"])
    return volumes


def segmentVolumeRows(result: dict) -> list:
    """``(output, segment, voxels, volume_mm3)`` for every listed label (missing counts read as 0)."""
    rows = []
    for outputName, output in (result.get("segmentations") or {}).items():
        for label in (output or {}).get("labels") or []:
            if isinstance(label, dict):
                name = label.get("name") or f"label {label.get('value')}"
                rows.append((outputName, name, int(label.get("voxels") or 0), float(label.get("volume_mm3") or 0.0)))
    return rows


def writeBatchCsv(path: str | Path, items: list[dict]) -> Path:
    header, rows = batchRows(items)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=header, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def volumeFiles(folder: str | Path) -> list[Path]:
    """NIfTI and NRRD files in ``folder`` (not recursive), sorted."""
    suffixes = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")
    return sorted(path for path in Path(folder).iterdir() if path.is_file() and path.name.lower().endswith(suffixes))
