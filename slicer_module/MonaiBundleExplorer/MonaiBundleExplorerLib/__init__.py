"""Helpers of the MonaiBundleExplorer module; only ``mrmlAdapter`` and ``pipeline`` need Slicer's MRML."""
