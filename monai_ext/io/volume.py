"""The in-memory volume that every reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Volume"]


@dataclass(frozen=True, kw_only=True)
class Volume:
    """A 3D (or 4D) image with its geometry.

    Attributes:
        array: voxel values in NIfTI index order, shape ``(I, J, K)`` or ``(I, J, K, T)``: ``I`` runs along
            the DICOM row direction (columns of a slice), ``J`` along the column direction (rows), ``K``
            along the slice normal. Real-world units (HU for CT) after rescale.
        affine: ``(4, 4)`` float64 matrix mapping ``(i, j, k, 1)`` to RAS millimetres (NIfTI/MONAI convention).
        meta: key metadata (no patient-identifying fields), including ``problems``: a list of plain-text
            notes about anything the reader had to work around.
    """

    array: np.ndarray
    affine: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along ``I, J, K`` (column norms of the affine)."""
        norms = np.linalg.norm(self.affine[:3, :3], axis=0)
        return (float(norms[0]), float(norms[1]), float(norms[2]))

    @property
    def shape(self) -> tuple[int, ...]:
        """Array shape, ``(I, J, K)`` or ``(I, J, K, T)``."""
        return tuple(int(s) for s in self.array.shape)
