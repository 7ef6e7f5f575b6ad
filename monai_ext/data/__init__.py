"""Embedded example data (generated, nothing downloaded)."""

from __future__ import annotations

from monai_ext.data.phantom import head_phantom_hu

__all__ = ["head_phantom_hu"]
