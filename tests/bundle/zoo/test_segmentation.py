"""Segmentation outputs: specs from metadata, label maps on the input grid, volumes, files, region Grad-CAM."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.networks.nets import UNet

from monai_ext.bundle.segmentation import (
    Segmentation,
    discretise,
    label_statistics,
    palette_color,
    region_grad_cam,
    segmentation_spec,
    to_input_grid,
    write_segmentations,
)
from monai_ext.bundle.segmentation.maps import smallest_unsigned

AFFINE = np.diag([0.8, 0.8, 2.0, 1.0])


def test_spec_from_zoo_channel_def_leaves_out_the_background() -> None:
    spec = segmentation_spec("pred", {"format": "segmentation", "channel_def": {"0": "background", "1": "spleen"}})
    assert spec.kind == "labels" and [(lab.value, lab.name) for lab in spec.labels] == [(1, "spleen")]
    assert spec.labels[0].color == palette_color(1)


def test_spec_with_names_and_colours_and_sigmoid_regions() -> None:
    meta = {"type": "segmentation", "labels": {"1": "anterior", "2": "posterior"}, "label_colors": {"2": [1, 2, 3]}}
    spec = segmentation_spec("pred", meta)
    assert [lab.color for lab in spec.labels] == [palette_color(1), (1, 2, 3)]
    regions = segmentation_spec("pred", {"channel_def": {"0": "TC", "1": "WT"}}, activation="sigmoid")
    assert regions.kind == "multilabel" and [lab.value for lab in regions.labels] == [0, 1]
    with pytest.raises(ValueError, match="0-255"):
        segmentation_spec("pred", {"labels": {"1": "a"}, "label_colors": {"1": [300, 0, 0]}})


def test_discretise_labels_and_regions() -> None:
    probabilities = torch.tensor([[[[0.2, 0.7]]], [[[0.8, 0.3]]]])  # (2, 1, 1, 2)
    assert discretise(probabilities, "labels").tolist() == [[[[1, 0]]]]
    assert discretise(probabilities, "multilabel").tolist() == [[[[0, 1]]], [[[1, 0]]]]
    assert discretise(torch.tensor([[[[1.6, 0.2]]]]), "labels").tolist() == [[[[2, 0]]]]
    with pytest.raises(ValueError, match="NaN"):
        discretise(torch.full((2, 1, 1, 1), float("nan")), "labels")


def test_label_map_is_inverted_as_one_hot_without_invented_values() -> None:
    """Inverting a 0/2 map linearly would create 1s at the edges; the one-hot route never does."""
    labels = torch.zeros(1, 4, 4, 4)
    labels[0, 2:] = 2

    def invert(t: torch.Tensor) -> MetaTensor:
        upsampled = torch.nn.functional.interpolate(t[None], size=(8, 8, 8), mode="trilinear")[0]
        return MetaTensor(upsampled, affine=torch.eye(4))

    mapped = to_input_grid(labels, kind="labels", channels=3, on_input_grid=False, invert=invert)
    assert mapped.shape == (1, 8, 8, 8) and set(mapped.unique().tolist()) == {0, 2}


def test_statistics_count_voxels_and_millimetres() -> None:
    mask = torch.zeros(1, 10, 10, 5, dtype=torch.int64)
    mask[0, :2] = 1
    mask[0, 5:, :, :1] = 7  # a value the metadata does not name
    spec = segmentation_spec("pred", {"labels": {"1": "liver", "2": "tumour"}})
    rows = label_statistics(Segmentation(spec=spec, mask=MetaTensor(mask, affine=torch.as_tensor(AFFINE))))
    expected = [(1, "liver", 100), (2, "tumour", 0), (7, "label 7", 50)]
    assert [(r["value"], r["name"], r["voxels"]) for r in rows] == expected
    assert rows[0]["volume_mm3"] == pytest.approx(100 * 0.8 * 0.8 * 2.0)


def test_files_follow_the_contract(tmp_path: Path) -> None:
    mask = torch.zeros(1, 6, 6, 4, dtype=torch.int64)
    mask[0, :3] = 1
    probabilities = torch.rand(2, 6, 6, 4)
    affine = torch.as_tensor(AFFINE)
    labels = Segmentation(
        spec=segmentation_spec("pred", {"channel_def": {"0": "background", "1": "Whole tumor"}}),
        mask=MetaTensor(mask, affine=affine),
        probabilities=MetaTensor(probabilities, affine=affine),
    )
    regions = Segmentation(
        spec=segmentation_spec("regions", {"channel_def": {"0": "a", "1": "b", "2": "c"}}, activation="sigmoid"),
        mask=MetaTensor(torch.ones(3, 6, 6, 4, dtype=torch.uint8), affine=affine),
    )
    written = write_segmentations({"pred": labels, "regions": regions}, tmp_path)
    entry = written.segmentations["pred"]
    image = nib.load(entry["path"])
    assert np.asanyarray(image.dataobj).dtype == np.uint8 and image.shape == (6, 6, 4)
    np.testing.assert_allclose(image.affine, AFFINE)
    label = entry["labels"][0]
    assert label["probability_map"].endswith("pred_prob_whole_tumor.nii.gz") and label["voxels"] == 72
    heat = nib.load(label["probability_map"])
    np.testing.assert_allclose(heat.get_fdata(), probabilities[1].numpy(), atol=1 / 255)
    assert written.heatmaps == ["pred_prob_whole_tumor"]
    four_d = nib.load(written.segmentations["regions"]["path"])
    assert four_d.shape == (6, 6, 4, 3) and written.segmentations["regions"]["kind"] == "multilabel"
    assert [row["probability_map"] for row in written.segmentations["regions"]["labels"]] == [None] * 3


def test_smallest_unsigned_dtype() -> None:
    assert [smallest_unsigned(v) for v in (1, 255, 256, 70000)] == [np.uint8, np.uint8, np.uint16, np.uint32]


def test_region_grad_cam_looks_at_the_region_window() -> None:
    torch.manual_seed(0)
    network = UNet(spatial_dims=3, in_channels=1, out_channels=2, channels=(4, 8, 16), strides=(2, 2)).eval()
    x = torch.rand(1, 1, 32, 32, 16)
    with torch.no_grad():
        logits = network(x)[0]
    cam, info = region_grad_cam(network, x, logits, channel=1, kind="labels", roi=(16, 16, 16))
    assert cam.shape == (1, 32, 32, 16) and float(cam.min()) >= 0.0 and float(cam.max()) <= 1.0
    (i0, i1), (j0, j1), _ = info["window"]
    outside = cam.clone()
    outside[0, i0:i1, j0:j1] = 0
    assert float(outside.abs().max()) == 0.0 and float(cam.max()) > 0.0  # the map lives in the window only
    assert info["region_voxels"] == int((logits.argmax(0) == 1).sum())
