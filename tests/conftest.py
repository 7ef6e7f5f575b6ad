"""Shared fixtures: the real data beside the checkout (``../shared/data``), skipped when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MONAI_EXT_SHARED_DATA", REPO.parent / "shared" / "data")).resolve()


def require_data(relative: str) -> Path:
    """Path of a real-data item, or skip the test with the reason."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"real data not available: {path} (expected ../shared/data beside the checkout)")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the real data; skips when it is not beside the checkout."""
    return require_data("")


@pytest.fixture(scope="session")
def ct_slab() -> Path:
    """64 axial 512x512 chest CT slices (LIDC-IDRI-0314, CC BY 3.0)."""
    return require_data("dicom/ct-chest-lidc0314-slab")


@pytest.fixture(scope="session")
def ct_phantom() -> Path:
    """Philips head phantom CT, 28 slices, with a non-image DIRFILE (BSD-2)."""
    return require_data("dicom/ct-head-phantom-philips")


@pytest.fixture(scope="session")
def mr_t1_sag() -> Path:
    """Siemens Prisma T1 sagittal, 35 slices (BSD-2)."""
    return require_data("dicom/mr-head-t1-sag-siemens-prisma/dicom")


@pytest.fixture(scope="session")
def mr_t2_missing() -> Path:
    """Siemens Trio T2 axial, 55 slices with instance 35 missing upstream (Apache-2.0)."""
    return require_data("dicom/mr-brain-t2-ax-siemens-trio")


@pytest.fixture(scope="session")
def dcm2niix_ref() -> Path:
    """dcm2niix reference conversions of the series above."""
    return require_data("nifti/dcm2niix-reference")
