"""Benchmark: anomaly scores of the shipped shape autoencoder, hyperplasia vs normal, on data it never saw.

Run from the repository root (needs ``../shared/data/medmnist3d``)::

    .venv/bin/python benchmarks/bench_autoencoder_scores.py

The autoencoder trained on the 929 normal glands of the AdrenalMNIST3D train split. Two evaluation sets:

* ``val``: the val split (76 normal, 22 hyperplasia); the score variants were compared on it, so it is optimistic;
* ``held out``: the 259 hyperplasia glands of the train split (never seen by the autoencoder) against the 76
  normal val glands (never trained on). The official test split is withheld.

The thickness score's normative statistics (mean and std of its two features) come from the 929 normal train
glands only, so no abnormal label is used anywhere; they are printed for ``configs/inference.json``. References:
gland volume alone, gland thickness alone (no model), and the supervised classifier (val only: it trained on the
train hyperplasia cases).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from monai_ext.bundle.loader import load_bundle
from monai_ext.data.npz import load_npz_split
from monai_ext.explain.anomaly.residual import reconstruction_score
from monai_ext.explain.anomaly.thickness_score import thickness_features
from monai_ext.metrics.classification import roc_auc

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "bundles" / "adrenal_shape_autoencoder_3d"
CLASSIFIER = REPO / "bundles" / "adrenal_hyperplasia_classifier_3d"
DATA = REPO.parent / "shared" / "data" / "medmnist3d" / "adrenalmnist3d_64_trainval.npz"


def features(network: torch.nn.Module, images: np.ndarray, batch: int = 16) -> dict[str, np.ndarray]:
    """Per case: signed residual, the two thickness features, volume."""
    out: dict[str, list[float]] = {"signed": [], "depth_excess": [], "mean_depth": [], "volume": []}
    for start in range(0, len(images), batch):
        x = torch.from_numpy((images[start : start + batch] > 127).astype(np.float32))[:, None]
        with torch.no_grad():
            r = network(x)
        out["signed"] += reconstruction_score(x, r, score="signed").tolist()
        thick = thickness_features(x, r)
        out["depth_excess"] += thick[:, 0].tolist()
        out["mean_depth"] += thick[:, 1].tolist()
        out["volume"] += x.sum(dim=(1, 2, 3, 4)).tolist()
    return {k: np.asarray(v) for k, v in out.items()}


def main() -> None:
    torch.set_num_threads(2)
    network = load_bundle(BUNDLE).network.eval()
    train_images, train_labels = load_npz_split(DATA, "train")
    val_images, val_labels = load_npz_split(DATA, "val")
    normal = features(network, train_images[train_labels == 0])
    val = features(network, val_images)
    hyper = features(network, train_images[train_labels == 1])
    mean = [float(normal[k].mean()) for k in ("depth_excess", "mean_depth")]
    std = [float(normal[k].std()) for k in ("depth_excess", "mean_depth")]

    def thickness(f: dict[str, np.ndarray]) -> np.ndarray:
        return (f["depth_excess"] - mean[0]) / std[0] + (f["mean_depth"] - mean[1]) / std[1]

    held_labels = np.r_[np.zeros(int((val_labels == 0).sum())), np.ones(len(hyper["volume"]))]
    rows = {
        "autoencoder, thickness-aware score (new default)": thickness,
        "autoencoder, mean signed residual (previous default)": lambda f: f["signed"],
        "gland volume alone (no model)": lambda f: f["volume"],
        "gland mean thickness alone (no model)": lambda f: f["mean_depth"],
    }
    print(f"normal train glands: {len(normal['volume'])}; val {len(val_labels)} ({int(val_labels.sum())} hyperplasia);")
    print(f"held out: {len(hyper['volume'])} train hyperplasia vs {int((val_labels == 0).sum())} val normal\n")
    print("| score | val AUROC | held-out AUROC |")
    print("|---|---|---|")
    for name, score in rows.items():
        held = np.r_[score(val)[val_labels == 0], score(hyper)]
        print(f"| {name} | {roc_auc(val_labels, score(val)):.4f} | {roc_auc(held_labels, held):.4f} |")
    metrics = json.loads((CLASSIFIER / "configs" / "metadata.json").read_text())["eval_metrics"]
    print(f"| supervised classifier (upper reference) | {metrics['val_auc']:.4f} | n/a (trained on those cases) |")
    print(f'\nconfigs/inference.json: "thickness_normal_mean": {[round(m, 4) for m in mean]}, '
          f'"thickness_normal_std": {[round(s, 4) for s in std]}')  # fmt: skip


if __name__ == "__main__":
    main()
