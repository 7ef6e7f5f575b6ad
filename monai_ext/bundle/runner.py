"""Run a bundle on one volume and bring every output back to the input's grid: the path the CLI and Slicer share.

The runner reads four keys of the bundle's inference config: ``network_def``, ``preprocessing`` (a MONAI
``Compose`` of dictionary transforms on key ``"image"``; its invertible steps, such as ``Orientationd`` and
``Resized``, are undone on the outputs), optionally ``postprocessing`` (dictionary transforms on
``{"image", "pred"}`` that may add outputs, e.g. an anomaly map) and ``inferer``. MONAI Model Zoo configs run
unchanged: :mod:`monai_ext.bundle.zoo` feeds their loading steps the volume, skips their writers and builds their
inferer. A classifier (an output of type ``probabilities``) also gets the heatmap the metadata declares, by
Grad-CAM, Grad-CAM++, occlusion or SmoothGrad; a segmentation output becomes a label map (or region masks) with
probability maps and per-label volumes (:mod:`monai_ext.bundle.segmentation`). Nothing else in the bundle is
read or run.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from monai.data import MetaTensor

from monai_ext.bundle.config_values import (
    check_layer,
    check_layer_name,
    config_number,
    explain_baseline,
    explain_fallback,
)
from monai_ext.bundle.errors import BundleConfigError, BundleFileError, BundleInputError
from monai_ext.bundle.heatmap import HEATMAP_METHODS, SHARED_FORWARD_METHODS, OutputRecorder, compute_heatmap
from monai_ext.bundle.inputs.channels import check_channels, load_channels
from monai_ext.bundle.inputs.source import InputSource
from monai_ext.bundle.loader import Bundle, load_companion
from monai_ext.bundle.result import RunResult
from monai_ext.bundle.segmentation import Segmentation, label_statistics, region_grad_cam
from monai_ext.bundle.segmentation.build import build_segmentation
from monai_ext.bundle.segmentation.specs import segmentation_specs
from monai_ext.bundle.zoo import adapt_bundle, feed_volume
from monai_ext.bundle.zoo.errors import root_message
from monai_ext.bundle.zoo.inferer import build_inferer, inner_inferer, stitch_device
from monai_ext.engines.device import default_device
from monai_ext.engines.gan.sampling import sample_latents
from monai_ext.explain.attribution.feature_maps import feature_maps
from monai_ext.explain.attribution.gradcam import grad_cam

__all__ = ["BundleRunner", "Progress", "run_bundle", "runner_from_request"]

Progress = Callable[[str, float, str], None]
_LOGITS = "__network_output"  # the raw network output kept beside the postprocessed keys
_LABEL_MAP_KEYS = ("label", "labels", "labelNames", "referencePath", "backgroundPath")  # see monai_ext.bundle.per_label


def _quiet(_stage: str, _fraction: float, _message: str) -> None:
    return None


class BundleRunner:
    """A loaded bundle ready to run on volumes.

    Args:
        bundle: a :class:`Bundle` or a bundle folder/zip to load.
        trusted: see :func:`~monai_ext.bundle.load_bundle` (when ``bundle`` is a path).
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``; on CUDA out-of-memory the run
            falls back to CPU with a warning.
        heatmap: ``"gradcam"``, ``"gradcampp"``, ``"occlusion"`` or ``"smoothgrad"`` (classifiers).
        target_layer: the Grad-CAM layer; default: the config's ``explain_target_layer``, else automatic.
        overrides: config values set before parsing, like ``python -m monai.bundle run --key value``
            (plain data, e.g. ``{"inferer#roi_size": [64, 64, 64]}``).
        explain_segmentation: also explain the largest predicted segment (``<output>_explain``, Grad-CAM of its
            summed logit); one more forward and backward pass on one window.
    """

    def __init__(
        self,
        bundle: Bundle | str | Path,
        *,
        trusted: bool = False,
        device: str = "auto",
        heatmap: str = "gradcam",
        target_layer: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        explain_segmentation: bool = False,
    ) -> None:
        if heatmap not in HEATMAP_METHODS:
            raise ValueError(f"heatmap must be one of {HEATMAP_METHODS}, got {heatmap!r}")
        self.device = default_device(device)
        self.adapted = adapt_bundle(bundle, trusted=trusted, device=self.device, overrides=overrides)
        self.bundle = self.adapted.bundle
        try:
            self.heatmap = heatmap
            self.target_layer = target_layer or self.bundle.optional("explain_target_layer")
            check_layer_name(self.target_layer, self.bundle.config.path)
            self.explain_baseline = explain_baseline(self.bundle)
            self.explain_fallback = explain_fallback(self.bundle)
            if not self.generative:  # a GAN's layer names its discriminator, checked when that is loaded
                check_layer(self.bundle.network, self.target_layer, self.bundle.config.path)
            self.preprocessing = self.adapted.preprocessing
            if self.preprocessing is None and not self.generative:
                raise BundleFileError("the inference config has no 'preprocessing' key", self.bundle.config.path)
            self.postprocessing = self.adapted.postprocessing
            self.network = self.bundle.network.to(self.device)
            self.explain_segmentation = explain_segmentation
            self.segmentations = segmentation_specs(self.bundle, activation=self.adapted.plan.activation)
            self._discriminator: torch.nn.Module | None = None
            self._extra: dict[str, Any] = {}  # keys the loading steps add beside the image (e.g. image_meta_dict)
        except BaseException:
            if not isinstance(bundle, Bundle):
                self.bundle.close()
            raise

    def close(self) -> None:
        """Release the bundle (deletes the temporary copy of a zipped bundle)."""
        self.bundle.close()

    def __enter__(self) -> BundleRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def generative(self) -> bool:
        """Whether the bundle generates volumes from a latent vector (a GAN) instead of reading one."""
        return any(spec.get("type") == "latent" for spec in self.bundle.inputs.values())

    def generate(self, *, seed: int = 0, progress: Progress = _quiet) -> RunResult:
        """Generate one volume from the latent drawn with ``seed`` (reproducible on any machine).

        The output map is the generated ``(1, D, H, W)`` volume with affine ``diag(voxel_size_mm)``
        (config key ``voxel_size_mm``, default 1 mm).

        Raises:
            BundleFileError: the bundle has no latent input.
        """
        if not self.generative:
            raise BundleFileError("this bundle reads images; it has no latent input", self.bundle.root)
        clock = _Clock()
        name, spec = next((k, v) for k, v in self.bundle.inputs.items() if v.get("type") == "latent")
        z = sample_latents(1, int(spec["num_channels"]), seed)
        progress("generate", 0.3, f"Generating a volume from seed {seed} on {self.device}")
        with torch.no_grad():
            volume = self.network(z.to(self.device))[0].float().cpu()
        voxel = config_number(self.bundle, "voxel_size_mm", default=1.0, low=1e-3, high=1e3)
        affine = torch.diag(torch.tensor([voxel, voxel, voxel, 1.0], dtype=torch.float64))
        image = MetaTensor(volume, affine=affine, meta={"filename_or_obj": f"{name} seed {seed}"})
        result = RunResult(source=f"{name} seed {seed}", image=image, device=str(self.device))
        output = next((k for k, v in self.bundle.outputs.items() if v.get("type") == "image"), "image")
        result.maps[output] = image
        clock.lap(result, "generate")
        return result

    def run(
        self,
        source: InputSource | list[InputSource],
        *,
        target_class: int | None = None,
        feature_layer: str | None = None,
        progress: Progress = _quiet,
    ) -> RunResult:
        """Run on one volume; see :func:`~monai_ext.bundle.inputs.source.load_input` for ``source``.

        Args:
            source: the input volume, or a list of volumes: the channels in the order of the metadata's
                ``channel_def``, resampled onto the first one's grid
                (:func:`~monai_ext.bundle.inputs.channels.load_channels`).
            target_class: the class the heatmap explains (default: the predicted one).
            feature_layer: also return that layer's activations as the map ``features``, ``(C, I, J, K)``
                on the input's grid, each channel scaled to [0, 1] (see :func:`~monai_ext.explain.feature_maps`).
            progress: ``(stage, fraction, message)`` callback.
        """
        try:
            return self._run(source, target_class, feature_layer, progress)
        except torch.cuda.OutOfMemoryError:
            if self.device.type != "cuda":
                raise
            message = "CUDA ran out of memory; running on the CPU instead"
            warnings.warn(message, stacklevel=2)
            torch.cuda.empty_cache()
            self.device = torch.device("cpu")
            self.network = self.network.to(self.device)
            self.adapted.inferer = build_inferer(self.bundle.config, device=self.device)
            if self._discriminator is not None:
                self._discriminator = self._discriminator.to(self.device)
            result = self._run(source, target_class, feature_layer, progress)
            result.warnings.append(message)
            return result

    def _run(
        self,
        source: InputSource | list[InputSource],
        target_class: int | None,
        feature_layer: str | None,
        progress: Progress,
    ) -> RunResult:
        clock = _Clock()
        progress("load", 0.05, "Reading the input volume")
        image = load_channels(source)
        if self.adapted.plan.loading is not None:  # one file per channel, as the bundle's loader read them
            check_channels(image, self.bundle.inputs.get("image", {}))
        result = RunResult(source=str(image.meta.get("filename_or_obj", "")), image=image, device=str(self.device))
        result.warnings.extend(self.bundle.warnings + self.adapted.warnings)
        clock.lap(result, "load")
        progress("preprocess", 0.15, "Preprocessing as the bundle declares")
        prepared = self._prepare(image)
        x = prepared.as_tensor()[None].to(self.device)  # the network input, copied to the device once
        clock.lap(result, "preprocess")
        shared = self._wants_heatmap() and self.heatmap in SHARED_FORWARD_METHODS and target_class is None
        if self.generative:
            progress("heatmap", 0.3, f"Discriminator realism map on {self.device}")
            data = self._realism(x, result)
            clock.lap(result, "heatmap")
        elif shared:
            progress("heatmap", 0.3, f"Running the network and the {self.heatmap} heatmap on {self.device}")
            data = self._forward_with_heatmap(prepared, x, progress)
            result.timings["forward"] = 0.0  # shared with the heatmap pass
            clock.lap(result, "heatmap")
            self._collect_classes(data, result)
        else:
            progress("forward", 0.3, f"Running the network on {self.device}")
            data = self._forward(prepared, x)
            clock.lap(result, "forward")
            if self.segmentations:
                progress("segmentation", 0.6, "Label maps and probabilities on the input grid")
                self._segment(data, prepared, x, result)
                clock.lap(result, "segmentation")
            self._collect_classes(data, result)
        if self._wants_heatmap() and not self.generative:
            target = result.predicted_index if target_class is None else target_class
            if not shared:
                progress("heatmap", 0.5, f"Computing the {self.heatmap} heatmap")
                data["heatmap"] = self._heatmap(x, target, progress)
                clock.lap(result, "heatmap")
            if self._check_heatmap(data, x, target, result, progress):
                clock.lap(result, "heatmap_fallback")
        if feature_layer:
            progress("features", 0.8, f"Feature maps of {feature_layer}")
            data["features"] = feature_maps(self.network, x, feature_layer, size=x.shape[2:])[0].cpu()
        progress("resample", 0.85, "Resampling outputs to the input grid")
        self._collect_outputs(data, prepared, result)
        clock.lap(result, "resample")
        return result

    def _prepare(self, image: MetaTensor) -> MetaTensor:
        if self.preprocessing is None:
            raise BundleFileError("the inference config has no 'preprocessing' key", self.bundle.config.path)
        key = self.adapted.image_keys[0]
        try:
            data = self.preprocessing(feed_volume(image, self.adapted.plan.loading, self.adapted.image_keys))
            prepared = data[key]
        except Exception as err:
            raise BundleInputError(
                f"the bundle's preprocessing failed ({root_message(err)})", image.meta.get("filename_or_obj")
            ) from err
        if not isinstance(prepared, MetaTensor) or prepared.ndim < 3:
            raise BundleInputError(
                f"the bundle's preprocessing gives no channel-first image under {key!r}",
                image.meta.get("filename_or_obj"),
            )
        self._extra = {k: v for k, v in data.items() if k != key and k.startswith(key)}  # e.g. image_meta_dict
        expected = self.bundle.inputs.get("image", {}).get("num_channels")
        if expected is not None and prepared.shape[0] != int(expected):
            raise BundleInputError(
                f"preprocessing gives {prepared.shape[0]} channels, the network expects {expected}",
                image.meta.get("filename_or_obj"),
            )
        return prepared

    def _forward(self, prepared: MetaTensor, x: torch.Tensor) -> dict[str, Any]:
        inferer = self.adapted.inferer
        stitch_device(inferer, x, int(self.bundle.outputs.get("pred", {}).get("num_channels") or 1), self.device)
        try:
            with torch.no_grad(), torch.autocast(self.device.type, enabled=self.device.type == "cuda"):
                out = inferer(x, self.network)
        except torch.cuda.OutOfMemoryError:
            raise
        except (RuntimeError, ValueError, TypeError) as err:  # e.g. a size the network's strides cannot divide
            raise BundleInputError(
                f"the network cannot run on the preprocessed input {tuple(x.shape)} ({root_message(err)})",
                prepared.meta.get("filename_or_obj"),
            ) from err
        if not isinstance(out, torch.Tensor):
            raise BundleFileError(f"the network returns a {type(out).__name__}, not a tensor", self.bundle.config.path)
        logits = torch.as_tensor(out[0]).float().cpu()
        data = self._postprocess(prepared, logits)
        data[_LOGITS] = logits
        return data

    def _forward_with_heatmap(self, prepared: MetaTensor, x: torch.Tensor, progress: Progress) -> dict[str, Any]:
        """One fp32 pass: the predicted class's Grad-CAM map and the outputs it came from."""
        recorder = OutputRecorder(self.network)
        layer = OutputRecorder.layer(self.target_layer)
        cam = compute_heatmap(
            recorder, x, method=self.heatmap, target=None, target_layer=layer, progress=progress,
            baseline=self._baseline(x),
        )  # fmt: skip
        assert recorder.output is not None
        data = self._postprocess(prepared, recorder.output[0])
        data["heatmap"] = cam[0].cpu()
        return data

    def _realism(self, x: torch.Tensor, result: RunResult) -> dict[str, Any]:
        """A GAN bundle on an input volume: Grad-CAM of its discriminator's realism logit (``realism_map``)."""
        if self._discriminator is None:
            discriminator = load_companion(self.bundle, key="discriminator_def", weights_name="discriminator.pt")
            check_layer(discriminator, self.target_layer, self.bundle.config.path)
            self._discriminator = discriminator.to(self.device)
        recorder = OutputRecorder(self._discriminator)
        cam = grad_cam(recorder, x, OutputRecorder.layer(self.target_layer))
        assert recorder.output is not None
        result.scalars["realism_logit"] = float(recorder.output.flatten()[0])
        return {"realism_map": cam[0].cpu()}

    def _postprocess(self, prepared: MetaTensor, output: torch.Tensor) -> dict[str, Any]:
        key = self.adapted.image_keys[0]
        data: dict[str, Any] = {key: prepared, "pred": output.float().cpu()} | self._extra
        if key != "image":
            data["image"] = prepared
        if self.postprocessing is None:
            return data
        try:
            processed = self.postprocessing(data)
        except Exception as err:
            message = f"the bundle's postprocessing failed ({root_message(err)})"
            raise BundleConfigError(message, self.bundle.config.path) from err
        if not isinstance(processed, dict):
            raise BundleConfigError("postprocessing must return the dictionary of outputs", self.bundle.config.path)
        return processed

    def _segment(self, data: dict[str, Any], prepared: MetaTensor, x: torch.Tensor, result: RunResult) -> None:
        """Every segmentation output on the input's grid (see :mod:`monai_ext.bundle.segmentation`)."""
        for name, spec in self.segmentations.items():
            pred = data.get(name)
            if not isinstance(pred, torch.Tensor):
                continue
            try:
                segmentation = build_segmentation(
                    spec,
                    logits=data[_LOGITS],
                    pred=pred,
                    on_input_grid=self.adapted.plan.inverts,
                    invert=lambda t: self._invert(t, prepared),
                    image=result.image,
                )
            except ValueError as err:
                raise BundleInputError(f"output {name!r}: {err}", result.source or None) from err
            if self.explain_segmentation:
                self._explain_region(segmentation, data[_LOGITS], prepared, x)
            result.segmentations[name] = segmentation

    def _collect_classes(self, data: dict[str, Any], result: RunResult) -> None:
        for name, spec in self.bundle.outputs.items():
            if spec.get("type") == "probabilities" and name in data:
                result.probabilities = [float(v) for v in torch.as_tensor(data[name]).flatten()]
                names = spec.get("channel_def") or {}
                result.class_names = [str(names.get(str(i), i)) for i in range(len(result.probabilities))]

    def _wants_heatmap(self) -> bool:
        outputs = self.bundle.outputs
        return "heatmap" in outputs and any(o.get("type") == "probabilities" for o in outputs.values())

    def _heatmap(self, x: torch.Tensor, target: int | None, progress: Progress) -> torch.Tensor:
        cam = compute_heatmap(
            self.network, x, method=self.heatmap, target=target, target_layer=self.target_layer, progress=progress,
            baseline=self._baseline(x),
        )  # fmt: skip
        return cam[0].cpu()

    def _check_heatmap(
        self, data: dict[str, Any], x: torch.Tensor, target: int | None, result: RunResult, progress: Progress
    ) -> bool:
        """Record the heatmap's method; an empty map gets a warning, and the config's fallback method if any.

        Returns:
            Whether the fallback method replaced the map.
        """
        heatmap = data.get("heatmap")
        if not isinstance(heatmap, torch.Tensor):
            return False
        result.heatmap_method = self.heatmap
        if bool((heatmap > 0).any()):
            return False
        result.warnings.append(self._empty_heatmap_warning())
        fallback = self.explain_fallback
        if fallback is None or self.heatmap not in SHARED_FORWARD_METHODS:
            return False
        progress("heatmap", 0.6, f"The {self.heatmap} heatmap is empty; computing the {fallback} heatmap")
        data["heatmap"] = compute_heatmap(
            self.network, x, method=fallback, target=target, target_layer=self.target_layer, progress=progress
        )[0].cpu()
        result.heatmap_method = fallback
        result.warnings.append(f"the heatmap is the {fallback} map instead (the bundle's explain_fallback)")
        if not bool((data["heatmap"] > 0).any()):
            result.warnings.append(self._empty_heatmap_warning(fallback))
        return True

    def _empty_heatmap_warning(self, method: str | None = None) -> str:
        method = method or self.heatmap
        message = f"the {method} heatmap is empty: no region adds evidence for the explained class"
        if method not in SHARED_FORWARD_METHODS:
            return message
        relative = " compared with an empty input" if self.explain_baseline == "zeros" else ""
        return f"{message}{relative} (a linear estimate at the explained layer; occlusion measures it directly)"

    def _baseline(self, x: torch.Tensor) -> torch.Tensor | None:
        """The config's ``explain_baseline`` as an input like ``x`` (``None``: plain Grad-CAM)."""
        return torch.zeros_like(x) if self.explain_baseline == "zeros" else None

    def _explain_region(
        self, segmentation: Segmentation, logits: torch.Tensor, prepared: MetaTensor, x: torch.Tensor
    ) -> None:
        """Grad-CAM of the largest predicted segment (its summed logit), on the input's grid."""
        rows = label_statistics(segmentation)
        if not rows:
            return
        row = max(rows, key=lambda r: (r["voxels"], -r["value"]))
        roi = getattr(inner_inferer(self.adapted.inferer), "roi_size", None)
        cam, info = region_grad_cam(
            self.network, x, logits.to(x.device), channel=row["value"], kind=segmentation.spec.kind,
            roi=roi, target_layer=self.target_layer,
        )  # fmt: skip
        explanation = self._invert(cam, prepared)
        segmentation.explanation = MetaTensor(explanation.as_tensor().clamp(0.0, 1.0), affine=segmentation.mask.affine)
        segmentation.explained = {"label": row["value"], "name": row["name"], "method": "gradcam"} | info

    def _collect_outputs(self, data: dict[str, Any], prepared: MetaTensor, result: RunResult) -> None:
        spatial = tuple(prepared.shape[1:])
        outputs = dict(self.bundle.outputs) | ({"features": {"type": "features"}} if "features" in data else {})
        for name, spec in outputs.items():
            value = data.get(name)
            if value is None or spec.get("type") == "probabilities" or name in self.segmentations:
                continue
            tensor = torch.as_tensor(value).detach().float().cpu()
            if tensor.ndim == len(spatial) + 1 and tuple(tensor.shape[1:]) == spatial:
                result.maps[name] = self._invert(tensor, prepared)
            elif tensor.numel() == 1:
                result.scalars[name] = float(tensor)

    def _invert(self, tensor: torch.Tensor, prepared: MetaTensor) -> MetaTensor:
        """Undo the invertible preprocessing steps on ``(C, *network spatial)``; returns the input's grid."""
        mapped = MetaTensor(tensor.as_subclass(torch.Tensor))
        mapped.copy_meta_from(prepared)
        inverted = self.preprocessing.inverse({"image": mapped})["image"]
        return MetaTensor(inverted.as_tensor().float(), affine=inverted.affine)


class _Clock:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def lap(self, result: RunResult, stage: str) -> None:
        now = time.perf_counter()
        result.timings[stage] = round(now - self.start, 4)
        self.start = now


def run_bundle(request: dict[str, Any], progress: Progress = _quiet) -> dict[str, Any]:
    """The worker contract (Slicer module): run one request and write its outputs.

    Args:
        request: ``bundlePath``, ``inputPath``, ``outputDir``; optional ``device`` (``"auto"``),
            ``heatmapMethod`` (``"gradcam"``), ``trusted`` (``False``), ``targetClass``, ``targetLayer``,
            ``seed`` (generative bundles: a volume is generated from it; with ``inputPath`` the discriminator's
            realism map of that volume is added when the bundle declares ``realism_map``), ``inputPaths``
            (several channels, in ``channel_def`` order, instead of ``inputPath``), ``explainSegmentation``
            (``False``), ``overrides`` (config values, plain data),
            ``dicom_out`` (a folder: the results are also written there as DICOM SEG, Parametric Map and SR
            objects, see :func:`~monai_ext.dicom_results.write_dicom_results`), ``dicom_source`` (the
            source series' folder or files when ``inputPath`` is not the DICOM folder itself, e.g. a
            NIfTI export of a volume loaded from DICOM) and ``dicom_seg_threshold`` (0.5; ``None``: no
            SEG of the heatmap); ``label``, ``labels``, ``labelNames``, ``referencePath``,
            ``backgroundPath``: the input is a label map (or DICOM SEG), one run per label
            (:func:`~monai_ext.bundle.per_label.run_bundle_per_label`).
        progress: ``(stage, fraction in [0, 1], message)`` callback.

    Returns:
        ``result.json``'s content with ``classNames``, ``probabilities`` and ``maps`` (name -> NIfTI path),
        and with ``dicom_out``: ``dicom`` = ``{"files": {name: path}, "warnings": [...]}``.
    """
    if any(key in request for key in _LABEL_MAP_KEYS):  # a label map: one run per chosen label
        from monai_ext.bundle.per_label import run_bundle_per_label

        return run_bundle_per_label(request, progress)
    progress("bundle", 0.0, f"Loading the bundle {request['bundlePath']}")
    with runner_from_request(request) as runner:
        return _run_request(runner, request, progress)


def runner_from_request(request: Mapping[str, Any]) -> BundleRunner:
    """The :class:`BundleRunner` a worker request asks for (see :func:`run_bundle` for the keys).

    Reads ``bundlePath``, ``trusted``, ``device``, ``heatmapMethod``, ``targetLayer``, ``overrides`` and
    ``explainSegmentation``; every request kind (one volume, or a label map run per label) builds it here.
    """
    return BundleRunner(
        request["bundlePath"],
        trusted=bool(request.get("trusted", False)),
        device=str(request.get("device") or "auto"),
        heatmap=str(request.get("heatmapMethod") or "gradcam"),
        target_layer=request.get("targetLayer"),
        overrides=request.get("overrides"),
        explain_segmentation=bool(request.get("explainSegmentation", False)),
    )


def _run_request(runner: BundleRunner, request: dict[str, Any], progress: Progress) -> dict[str, Any]:
    from monai_ext.bundle.outputs.write import write_outputs

    if runner.generative:
        result = runner.generate(seed=int(request.get("seed", 0)), progress=progress)
        if request.get("inputPath") and "realism_map" in runner.bundle.outputs:
            generated = result.maps
            result = runner.run(request["inputPath"], progress=progress)
            result.maps |= generated  # the generated volume keeps its own grid
    else:
        source = list(request["inputPaths"]) if request.get("inputPaths") else request["inputPath"]
        result = runner.run(source, target_class=request.get("targetClass"), progress=progress)
    progress("write", 0.95, "Writing the outputs")
    summary = write_outputs(result, request["outputDir"], bundle=runner.bundle)
    if request.get("dicom_out"):
        from monai_ext.dicom_results import write_dicom_results

        progress("dicom", 0.97, "Writing the results as DICOM objects")
        dicom_source = request.get("dicom_source") or request.get("inputPath") or request["inputPaths"][0]
        threshold = request.get("dicom_seg_threshold", 0.5)
        written = write_dicom_results(summary, dicom_source, request["dicom_out"], threshold=threshold)
        summary["dicom"] = {"files": written.files, "warnings": written.warnings}
    return summary | {"classNames": summary["class_names"], "probabilities": summary["probabilities"]}
