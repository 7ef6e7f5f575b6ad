"""Benchmark: Grad-CAM / Grad-CAM++ of ``monai_ext.explain`` against MONAI's ``monai.visualize``, and map upsampling.

Run from the repository root::

    .venv/bin/python benchmarks/bench_gradcam.py                 # 1 warm-up + 5 timed rounds
    .venv/bin/python benchmarks/bench_gradcam.py --rounds 9 --with-scipy

On the CPU with 2 threads, models in eval mode with seeded random weights:

* MONAI ``DenseNet121(spatial_dims=3, in_channels=1, out_channels=2)`` on a 1x1x96^3 input;
* ``monai_ext.networks.Classifier(spatial_dims=3, in_channels=2, out_channels=2)`` (channels 16-128,
  strides 2) on a 1x2x64^3 input.

Rows per model: one forward under ``torch.no_grad()`` (the 1.0x reference), our ``grad_cam`` and
``grad_cam_pp``, MONAI ``GradCAM`` and ``GradCAMpp`` (default normaliser, as users call them; each on its own
deep copy of the model because MONAI leaves its hooks on the network). All use the same target layer
(``default_target_layer``) and the arg-max class. Each round runs every method once, round-robin, so load
changes hit all rows alike; the table reports medians over rounds, the ratio to the forward and the Pearson
correlation of our map with MONAI's (MONAI maps the most important voxel to 0, so ``1 - map`` is compared).

The second table upsamples a map to 512x512x256: our ``upsample_map`` (separable matrix products) against
``torch.nn.functional.interpolate(mode="trilinear")`` and, with ``--with-scipy``, one call of
``scipy.ndimage.zoom(order=1)`` (about 20 s).

Targets: our Grad-CAM <= 1.2x a no-grad forward; correlation with MONAI >= 0.99.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from monai.networks.nets import DenseNet121
from monai.visualize import GradCAM, GradCAMpp
from torch import nn

from monai_ext.explain.attribution.gradcam import default_target_layer, grad_cam, grad_cam_pp, upsample_map
from monai_ext.networks import Classifier

GRADCAM_TARGET = 1.2
CORR_TARGET = 0.99
BIG = (512, 512, 256)


def pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two maps of any shape."""
    a, b = a.flatten().double(), b.flatten().double()
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / (a.norm() * b.norm()))


def models() -> dict[str, tuple[nn.Module, torch.Tensor]]:
    """The benchmarked networks (seeded random weights, eval mode) with their inputs."""
    torch.manual_seed(0)
    densenet = DenseNet121(spatial_dims=3, in_channels=1, out_channels=2).eval()
    classifier = Classifier(
        spatial_dims=3, in_channels=2, out_channels=2, channels=(16, 32, 64, 128), strides=(2, 2, 2, 2)
    ).eval()
    return {
        "DenseNet121 1x1x96^3": (densenet, torch.rand(1, 1, 96, 96, 96)),
        "Classifier 1x2x64^3": (classifier, torch.rand(1, 2, 64, 64, 64)),
    }


def methods(model: nn.Module, x: torch.Tensor, layer: str, label: int) -> dict[str, Callable[[], torch.Tensor]]:
    """The timed calls, each returning a map (the forward returns the logits)."""
    monai_cam = GradCAM(copy.deepcopy(model), target_layers=layer)
    monai_pp = GradCAMpp(copy.deepcopy(model), target_layers=layer)

    def forward() -> torch.Tensor:
        with torch.no_grad():
            return model(x)

    return {
        "forward (no_grad)": forward,
        "ours grad_cam": lambda: grad_cam(model, x, layer, label),
        "ours grad_cam_pp": lambda: grad_cam_pp(model, x, layer, label),
        "MONAI GradCAM": lambda: 1 - monai_cam(x, class_idx=label),
        "MONAI GradCAMpp": lambda: 1 - monai_pp(x, class_idx=label),
    }


def round_robin(calls: dict[str, Callable[[], torch.Tensor]], rounds: int) -> dict[str, list[float]]:
    """Seconds per call: one untimed warm-up round, then ``rounds`` rounds running every call once."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for index in range(rounds + 1):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            if index:
                times[name].append(time.perf_counter() - start)
    return times


def gradcam_table(rounds: int) -> None:
    """Time and compare the CAM methods on each model; print a markdown table."""
    print("\n| model | target layer (map size) | method | median s | x forward | corr vs MONAI |")
    print("|---|---|---|---:|---:|---:|")
    for title, (model, x) in models().items():
        layer = default_target_layer(model, x)
        with torch.no_grad():
            label = int(model(x).argmax(1)[0])
        size = "x".join(str(s) for s in grad_cam_size(model, x, layer))
        calls = methods(model, x, layer, label)
        maps = {name: call() for name, call in calls.items() if name != "forward (no_grad)"}
        corr = {
            "ours grad_cam": pearson(maps["ours grad_cam"], maps["MONAI GradCAM"]),
            "ours grad_cam_pp": pearson(maps["ours grad_cam_pp"], maps["MONAI GradCAMpp"]),
        }
        medians = {name: statistics.median(t) for name, t in round_robin(calls, rounds).items()}
        reference = medians["forward (no_grad)"]
        for name, seconds in medians.items():
            ratio = seconds / reference
            speed = f"{ratio:.2f}" + (_verdict(ratio <= GRADCAM_TARGET) if name == "ours grad_cam" else "")
            agree = f"{corr[name]:.4f}{_verdict(corr[name] >= CORR_TARGET)}" if name in corr else "-"
            print(f"| {title} | {layer} ({size}) | {name} | {seconds:.3f} | {speed} | {agree} |")


def _verdict(met: bool) -> str:
    return " (target met)" if met else " (target MISSED)"


def grad_cam_size(model: nn.Module, x: torch.Tensor, layer: str) -> tuple[int, ...]:
    """Spatial size of ``layer``'s output for ``x``."""
    sizes: list[tuple[int, ...]] = []
    handle = dict(model.named_modules())[layer].register_forward_hook(
        lambda _m, _i, out: sizes.append(tuple(out.shape[2:]))
    )
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    return sizes[-1]


def upsample_table(rounds: int, with_scipy: bool) -> None:
    """Time map upsampling to 512x512x256; print a markdown table."""
    print("\n| from | method | median s | x F.interpolate | max abs diff |")
    print("|---|---|---:|---:|---:|")
    for side in (3, 8):
        cam = torch.rand(1, 1, side, side, side)
        calls: dict[str, Callable[[], torch.Tensor]] = {
            "F.interpolate trilinear": lambda cam=cam: F.interpolate(cam, size=BIG, mode="trilinear"),
            "ours upsample_map": lambda cam=cam: upsample_map(cam, BIG),
        }
        reference = calls["F.interpolate trilinear"]()
        diff = {name: float((call() - reference).abs().max()) for name, call in calls.items()}
        medians = {name: statistics.median(t) for name, t in round_robin(calls, rounds).items()}
        if with_scipy:
            medians["scipy zoom order=1 (1 run)"], diff["scipy zoom order=1 (1 run)"] = scipy_zoom(cam, reference)
        base = medians["F.interpolate trilinear"]
        for name, seconds in medians.items():
            print(f"| {side}^3 | {name} | {seconds:.3f} | {seconds / base:.2f} | {diff[name]:.1e} |")


def scipy_zoom(cam: torch.Tensor, reference: torch.Tensor) -> tuple[float, float]:
    """Seconds of one ``scipy.ndimage.zoom(order=1)`` call and its max abs difference (NaN without scipy)."""
    try:
        from scipy import ndimage
    except ImportError:
        print("(scipy is not installed: no scipy row)")
        return float("nan"), float("nan")
    volume = cam[0, 0].numpy()
    start = time.perf_counter()
    zoomed = ndimage.zoom(volume, [b / s for b, s in zip(BIG, volume.shape, strict=True)], order=1)
    seconds = time.perf_counter() - start
    return seconds, float((torch.from_numpy(zoomed) - reference[0, 0]).abs().max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds after one warm-up round")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--with-scipy", action="store_true", help="also time scipy.ndimage.zoom once (~20 s)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, CPU, threads {torch.get_num_threads()}, {args.rounds} rounds + 1 warm-up")
    print(f"targets: ours grad_cam <= {GRADCAM_TARGET}x a no-grad forward; corr with MONAI >= {CORR_TARGET}")
    gradcam_table(args.rounds)
    upsample_table(args.rounds, args.with_scipy)


if __name__ == "__main__":
    main()
