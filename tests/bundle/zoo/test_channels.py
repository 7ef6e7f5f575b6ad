"""Several volumes as the channels of one input: resampled onto the first one's grid, named by channel_def."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from monai_ext.bundle import BundleInputError
from monai_ext.bundle.inputs.channels import check_channels, load_channels, order_channels

SPEC = {"num_channels": 3, "channel_def": {"0": "T1c", "1": "T2", "2": "FLAIR"}}


def _ramp(path: Path, affine: np.ndarray, shape: tuple[int, int, int]) -> Path:
    """A volume whose value is the RAS x coordinate of each voxel (so a resampled copy can be checked)."""
    index = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), axis=-1).astype(np.float64)
    world = index @ affine[:3, :3].T + affine[:3, 3]
    nib.save(nib.Nifti1Image(world[..., 0].astype(np.float32), affine), path)
    return path


def test_channels_are_resampled_onto_the_first_grid(tmp_path: Path) -> None:
    first_affine = np.diag([1.0, 1.0, 2.0, 1.0])
    other_affine = np.diag([2.0, 2.0, 2.0, 1.0])  # coarser grid over the same space
    first = _ramp(tmp_path / "a.nii.gz", first_affine, (20, 20, 6))
    other = _ramp(tmp_path / "b.nii.gz", other_affine, (12, 12, 6))
    image = load_channels([first, other, first])
    assert tuple(image.shape) == (3, 20, 20, 6)
    np.testing.assert_allclose(np.asarray(image.affine), first_affine)
    inner = (slice(0, 18), slice(None), slice(None))  # inside the coarse grid's extent
    np.testing.assert_allclose(image[1].numpy()[inner], image[0].numpy()[inner], atol=1e-4)
    assert image.meta["channel_sources"] == [str(first), str(other), str(first)]


def test_named_channels_follow_channel_def() -> None:
    assert order_channels({"flair": "f", "T1C": "a", "T2": "b"}, SPEC) == ["a", "b", "f"]
    with pytest.raises(BundleInputError, match=r"missing channel.*FLAIR"):
        order_channels({"T1c": "a", "T2": "b"}, SPEC)
    with pytest.raises(BundleInputError, match=r"unknown channel 'T1'.*0=T1c, 1=T2, 2=FLAIR"):
        order_channels({"T1": "a"}, SPEC)


def test_wrong_channel_count_says_what_goes_where(tmp_path: Path) -> None:
    image = load_channels(_ramp(tmp_path / "a.nii.gz", np.eye(4), (8, 8, 4)))
    with pytest.raises(BundleInputError, match=r"expects 3 input channel\(s\): 0=T1c, 1=T2, 2=FLAIR; got 1"):
        check_channels(image, SPEC)
