"""The segmentation outputs a bundle declares, read once from its metadata."""

from __future__ import annotations

from monai_ext.bundle.errors import BundleFileError
from monai_ext.bundle.loader import Bundle
from monai_ext.bundle.segmentation.labels import SegmentationSpec, is_segmentation, segmentation_spec

__all__ = ["segmentation_specs"]


def segmentation_specs(bundle: Bundle, *, activation: str | None = None) -> dict[str, SegmentationSpec]:
    """``{output name: spec}`` for every output of ``network_data_format`` that is a segmentation.

    Args:
        bundle: the loaded bundle.
        activation: the activation of the bundle's postprocessing (``"sigmoid"``: overlapping regions).

    Raises:
        BundleFileError: malformed ``labels``, ``channel_def`` or ``label_colors`` (names metadata.json).
    """
    specs = {}
    for name, spec in bundle.outputs.items():
        if not isinstance(spec, dict) or not is_segmentation(spec):
            continue
        try:
            specs[name] = segmentation_spec(name, spec, activation=activation)
        except ValueError as err:
            raise BundleFileError(f"output {name!r}: {err}", bundle.root / "configs" / "metadata.json") from err
    return specs
