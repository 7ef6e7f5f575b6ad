"""Label names stored with a label map: Slicer's segmentation NRRD header (``SegmentN_Name``/``_LabelValue``)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["read_label_names"]


def read_label_names(path: str | os.PathLike[str]) -> dict[str, int]:
    """Segment name -> label value from a ``.seg.nrrd``/``.nrrd`` header (empty for files without names).

    Slicer writes ``Segment0_Name``, ``Segment0_LabelValue`` (and ``Segment0_Layer``) for each segment; a segment
    without a label value takes its index + 1, as Slicer's own reader does.
    """
    name = Path(path).name.lower()
    if not name.endswith((".nrrd", ".nhdr")):
        return {}
    import nrrd

    header = nrrd.read_header(str(path))
    names: dict[str, int] = {}
    index = 0
    while f"Segment{index}_Name" in header:
        value = header.get(f"Segment{index}_LabelValue", index + 1)
        names[str(header[f"Segment{index}_Name"])] = int(value)
        index += 1
    return names
