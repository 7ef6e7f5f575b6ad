"""Write a run's outputs: one NIfTI per map (the input's affine), a PNG montage and ``result.json``, atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from monai_ext.bundle.errors import BundleFileError
from monai_ext.bundle.loader import Bundle
from monai_ext.bundle.outputs.background_montage import background_summary, save_background_montage
from monai_ext.bundle.policy import load_policy
from monai_ext.bundle.result import RunResult
from monai_ext.bundle.segmentation.write import write_segmentations
from monai_ext.io.atomic import atomic_write_text
from monai_ext.io.nifti import save_nifti
from monai_ext.io.volume import Volume
from monai_ext.sandbox import current_protections

__all__ = ["output_file", "result_summary", "write_outputs"]


def output_file(out: Path, name: str, suffix: str) -> Path:
    """``out/<name><suffix>``, refused unless ``name`` is a plain file name (no folders, no NUL, no dot first).

    Raises:
        BundleFileError: the output name could write outside ``out`` or is not a portable file name.
    """
    limits = load_policy().limits
    if not limits.valid_name(name):
        raise BundleFileError(f"the output name {name!r:.80} must match {limits.name_pattern}: it becomes a file name")
    path = out / f"{name}{suffix}"
    if path.parent != out:
        raise BundleFileError(f"the output name {name!r} leads outside the output folder", out)
    return path


def write_outputs(result: RunResult, out_dir: str | Path, *, bundle: Bundle, montage: bool = True) -> dict[str, Any]:
    """Write ``<map>.nii.gz`` for every map, ``<map>_montage.png`` for heatmaps, and ``result.json``.

    With ``result.background`` (the CT a label map was drawn on), heatmap montages show the heatmap over it
    with the input mask outlined (:func:`~monai_ext.bundle.outputs.background_montage.save_background_montage`).

    Segmentation outputs follow the shared contract (:mod:`monai_ext.bundle.segmentation.write`): a label map
    (or region masks), one probability heatmap per segment, and ``"segmentations"`` in ``result.json``.

    Maps whose metadata ``value_range`` is ``[0, 1]`` are stored as ``uint8`` with ``scl_slope = 1/255``
    (see :func:`~monai_ext.io.nifti.save_nifti`); others as float32.

    Args:
        result: from :meth:`BundleRunner.run`.
        out_dir: created if needed; files in it are replaced only once complete.
        bundle: the bundle that ran (its name, version and weights digest go into the JSON).
        montage: write the PNG montages (matplotlib; about 0.3 s each).

    Returns:
        The summary written to ``result.json`` (paths are absolute).
    """
    from monai_ext.explain import save_feature_montage, save_overlay_montage
    from monai_ext.explain.display.ras_order import to_ras_order

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    pngs: dict[str, str] = {}
    image = result.image.as_tensor()[0].numpy()
    heatmaps: list[str] = []  # the maps to overlay on the input (the Slicer module shows the first)
    for name, tensor in result.maps.items():
        spec = bundle.outputs.get(name, {})
        array = tensor.as_tensor().numpy()
        array = array[0] if array.shape[0] == 1 else np.moveaxis(array, 0, -1)
        unit = spec.get("value_range") == [0, 1]
        volume = Volume(array=np.clip(array, 0, 1) if unit else array, affine=np.asarray(tensor.affine))
        path = save_nifti(volume, output_file(out, name, ".nii.gz"), sidecar=False, unit_range_uint8=unit)
        files[name] = str(path.resolve())
        if montage and name == "features":
            png = save_feature_montage(tensor.as_tensor(), out / "features_montage.png")
            pngs[name] = str(png.resolve())
        if spec.get("type") == "heatmap":
            heatmaps.append(name)
        if montage and name in heatmaps and array.ndim == 3:
            png = output_file(out, name, "_montage.png")
            if result.background is None:
                affine = np.asarray(result.image.affine)  # the montage labels its edges for RAS voxel order
                (shown, _), (overlay, ras_spacing) = to_ras_order(image, affine), to_ras_order(array, affine)
                save_overlay_montage(shown, overlay, png, title=f"{bundle.name}: {name}", spacing=ras_spacing)
            else:
                save_background_montage(result, array, png, title=f"{bundle.name}: {name}")
            pngs[name] = str(png.resolve())
    segmented = write_segmentations(result.segmentations, out)
    summary = result_summary(result, bundle=bundle) | {
        "maps": files | segmented.maps,
        "heatmaps": heatmaps + segmented.heatmaps,
        "montages": pngs,
        "segmentations": segmented.segmentations,
        "explanations": segmented.explanations,
        "background": background_summary(result.background),
    }
    atomic_write_text(out / "result.json", json.dumps(summary, indent=2) + "\n")
    return summary


def result_summary(result: RunResult, *, bundle: Bundle) -> dict[str, Any]:
    """The JSON-ready description of a run (without file paths).

    ``heatmap_method`` is the method that made the map ``heatmap`` (``result.heatmap_method``): after a fallback
    it is not the one asked for, and the warnings say why.
    """
    return {
        "input": result.source,
        "input_shape": list(result.image.shape[1:]),
        "bundle": {
            "name": bundle.name,
            "version": bundle.metadata.get("version"),
            "path": str(bundle.root),
            "weights_sha256": bundle.sha256,
            "weights_verified": bundle.verified,
            "trusted": bundle.trusted,
        },
        "device": result.device,
        "class_names": result.class_names,
        "probabilities": result.probabilities,
        "predicted": result.predicted,
        "scalars": result.scalars,
        "heatmap_method": result.heatmap_method if "heatmap" in result.maps else None,
        "timings": result.timings,
        "warnings": result.warnings,
        "protections": current_protections().to_json(),  # which kernel protections the run had (issue 12)
    }
