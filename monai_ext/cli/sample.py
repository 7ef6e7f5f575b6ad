"""``monai-ext sample``: the embedded sample, an abdomen-like CT with both adrenal glands segmented (no data needed).

The repository may not hold the AdrenalMNIST3D files, so the sample is synthetic: the shipped GAN bundle draws two
adrenal-gland shapes from fixed seeds (the same volumes on every machine; 64 mm cubes at 2 mm, upsampled to 1 mm
and thresholded at 0.5, the second mirrored left-right), and they are placed above and medial to the kidneys of an
abdomen phantom on a scanner-like grid: 0.7 x 0.7 x 2.5 mm, 300 x 300 x 120 voxels, tilted, in DICOM voxel order.
It writes the CT (NIfTI and a CT DICOM series) and the segmentation as a Slicer-style segmentation NRRD (segment
names ``adrenal_gland_right`` = 1, ``adrenal_gland_left`` = 2), what a user brings from Slicer's Segment Editor.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from monai_ext.bundle.runner import BundleRunner
from monai_ext.data.abdomen_phantom import ADRENAL_CENTRES, abdomen_phantom_hu
from monai_ext.data.scanner_grid import PlacedMask, scanner_affine
from monai_ext.io.atomic import atomic_path
from monai_ext.io.dicom.write import write_dicom_series
from monai_ext.io.nifti import save_nifti
from monai_ext.io.volume import Volume

__all__ = ["DEFAULT_GAN", "LABELS", "make_sample", "register", "sample_affine", "write_label_nrrd"]

DEFAULT_GAN = Path(__file__).resolve().parents[2] / "bundles" / "adrenal_shape_gan_3d"
LABELS = {"adrenal_gland_right": 1, "adrenal_gland_left": 2}
_COLOURS = {1: "0.86 0.55 0.24", 2: "0.30 0.69 0.29"}


def sample_affine() -> np.ndarray:
    """RAS affine of the sample CT: 0.7 x 0.7 x 2.5 mm, 300 x 300 x 120, tilted, DICOM (LPS) voxel order."""
    return scanner_affine(shape=(300, 300, 120), spacing=(0.7, 0.7, 2.5), degrees=(8.0, -5.0, 12.0))


def _gland(runner: BundleRunner, seed: int, mirror: bool) -> np.ndarray:
    """The GAN's 32^3 (2 mm) shape as a 64^3 1 mm mask (trilinear x2, threshold 0.5)."""
    soft = runner.generate(seed=seed).image.as_tensor()[None].float()
    mask = (F.interpolate(soft, scale_factor=2, mode="trilinear", align_corners=False)[0, 0] >= 0.5).numpy()
    return (mask[::-1] if mirror else mask).astype(np.float32)


def write_label_nrrd(labels: np.ndarray, affine: np.ndarray, path: Path, names: dict[str, int]) -> Path:
    """A label map as a Slicer-style segmentation NRRD (``SegmentN_Name``/``_LabelValue``), atomically."""
    import nrrd

    lps = np.diag([-1.0, -1.0, 1.0]) @ affine[:3, :3]
    header: dict[str, Any] = {
        "type": "unsigned char",
        "dimension": 3,
        "space": "left-posterior-superior",
        "space directions": lps.T,
        "space origin": np.diag([-1.0, -1.0, 1.0]) @ affine[:3, 3],
        "kinds": ["domain", "domain", "domain"],
        "encoding": "gzip",
    }
    for index, (name, value) in enumerate(names.items()):
        header |= {f"Segment{index}_Name": name, f"Segment{index}_LabelValue": str(value)}
        header |= {f"Segment{index}_Layer": "0", f"Segment{index}_Color": _COLOURS.get(value, "1 1 0")}
    with atomic_path(path) as tmp:
        nrrd.write(str(tmp), np.ascontiguousarray(labels, dtype=np.uint8), header, index_order="F")
    return path


def make_sample(out: Path, *, seed: int = 0, gan: Path = DEFAULT_GAN) -> dict[str, Path]:
    """Write the CT (``ct.nii.gz``, ``ct_dicom/``) and its segmentation ``adrenal_labels.nrrd``; returns the paths."""
    runner = BundleRunner(gan, device="cpu")
    glands = {
        LABELS["adrenal_gland_right"]: PlacedMask(
            mask=_gland(runner, seed, False), centre=ADRENAL_CENTRES["adrenal_gland_right"]
        ),
        LABELS["adrenal_gland_left"]: PlacedMask(
            mask=_gland(runner, seed + 1, True), centre=ADRENAL_CENTRES["adrenal_gland_left"]
        ),
    }
    affine = sample_affine()
    ct, labels = abdomen_phantom_hu(affine, (300, 300, 120), glands, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    nifti = save_nifti(Volume(array=ct, affine=affine), out / "ct.nii.gz", sidecar=False)
    label_path = write_label_nrrd(labels, affine, out / "adrenal_labels.nrrd", LABELS)
    folder = out / "ct_dicom"
    if folder.exists():
        shutil.rmtree(folder)
    write_dicom_series(ct, affine, folder, description=f"synthetic abdomen, adrenal seeds {seed}/{seed + 1}")
    return {"ct": nifti, "labels": label_path, "dicom": folder}


def _run(args: argparse.Namespace) -> int:
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    paths = make_sample(Path(args.out), seed=args.seed, gan=args.gan)
    print(f"wrote {paths['ct']} (abdomen-like CT, 0.7 x 0.7 x 2.5 mm, oblique)")
    print(f"wrote {paths['labels']} (segmentation: adrenal_gland_right = 1, adrenal_gland_left = 2)")
    print(f"wrote {paths['dicom']} (the CT as a DICOM series)")
    return 0


def register(commands: Any) -> None:
    """Add ``sample`` to the command parser."""
    parser = commands.add_parser(
        "sample", help="write the embedded sample: an abdomen-like CT with both adrenal glands segmented"
    )
    parser.add_argument("--out", type=Path, default=Path("demo_output/sample"), help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="latent seed")
    parser.add_argument("--gan", type=Path, default=DEFAULT_GAN, help="GAN bundle folder")
    parser.set_defaults(handler=_run)
