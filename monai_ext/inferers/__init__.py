"""Inferers that wrap MONAI's: test-time averaging over exact symmetries of the input grid."""

from __future__ import annotations

from monai_ext.inferers.flip_averaging import FlipAveragingInferer

__all__ = ["FlipAveragingInferer"]
