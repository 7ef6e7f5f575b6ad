"""Read a DICOM Segmentation (SEG) object as a label map on the grid of the CT series it was drawn on.

The SEG is decoded with highdicom (``Segmentation.get_volume``: segment numbers combined into one label map, its
own frame-of-reference geometry), then sampled with nearest neighbour at every voxel of the reference series as
:func:`~monai_ext.io.dicom.load.load_dicom_series` loads it, so the label map shares the CT's array order and RAS
affine. Segment labels become ``meta["label_names"]`` (``{"adrenal_gland_left": 2}``), so a bundle can select a
gland by name.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from monai_ext.io.dicom.load import load_dicom_series
from monai_ext.io.errors import DicomError
from monai_ext.io.volume import Volume

__all__ = ["DicomSegError", "load_dicom_seg"]

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


class DicomSegError(DicomError):
    """A DICOM SEG that cannot be put onto its reference series (not a SEG, other frame of reference, empty)."""


def load_dicom_seg(seg_path: str | os.PathLike[str], reference: str | os.PathLike[str] | Volume) -> Volume:
    """The SEG's label map on the reference series' grid.

    Args:
        seg_path: the SEG file (one multi-frame instance).
        reference: the CT series it segments: a folder holding that one series, or an already loaded
            :class:`~monai_ext.io.Volume` (with ``meta["frame_of_reference_uid"]`` if known).

    Returns:
        ``Volume`` with a ``uint8`` (or ``uint16`` for > 255 segments) ``(I, J, K)`` label map of segment numbers
        (0 = background), the reference's RAS affine, and ``meta``: ``label_names`` (segment label -> number),
        ``source`` (the SEG path) and ``reference`` (the series).

    Raises:
        DicomSegError: not a readable SEG, another frame of reference than the series, or no segment voxel
            falls inside the series' volume.
        DicomError: the reference series itself cannot be loaded.
    """
    import highdicom as hd
    import pydicom

    path = Path(seg_path)
    try:
        seg = hd.seg.segread(path)
    except (OSError, ValueError, AttributeError, TypeError, pydicom.errors.InvalidDicomError) as err:
        raise DicomSegError(f"not a readable DICOM Segmentation ({err})", [path]) from err
    ct = reference if isinstance(reference, Volume) else load_dicom_series(reference)
    _check_frame_of_reference(seg, ct, path)
    try:
        labels = seg.get_volume(combine_segments=True, dtype=np.uint16)
    except (ValueError, RuntimeError) as err:
        raise DicomSegError(f"the SEG frames do not form a regular volume ({err})", [path]) from err
    names = {str(seg.get_segment_description(n).segment_label): int(n) for n in seg.get_segment_numbers()}
    array = _sample_nearest(np.asarray(labels.array), _LPS_TO_RAS @ np.asarray(labels.affine), ct)
    if not array.any():
        raise DicomSegError("no segment voxel lies inside the reference series' volume", [path])
    dtype = np.uint8 if int(array.max()) <= 255 else np.uint16
    meta = {"label_names": names, "source": str(path), "reference": ct.meta.get("series_uid", str(reference))}
    return Volume(array=array.astype(dtype), affine=ct.affine, meta=meta)


def _check_frame_of_reference(seg: object, ct: Volume, path: Path) -> None:
    seg_frame = getattr(seg, "FrameOfReferenceUID", None)
    ct_frame = ct.meta.get("frame_of_reference_uid")
    files = ct.meta.get("source_files") or []
    if ct_frame is None and files:
        import pydicom

        ct_frame = getattr(pydicom.dcmread(files[0], stop_before_pixels=True), "FrameOfReferenceUID", None)
    if seg_frame and ct_frame and seg_frame != ct_frame:
        raise DicomSegError(
            f"the SEG's frame of reference {seg_frame} is not the series' {ct_frame}: it segments another scan",
            [path],
        )


def _sample_nearest(labels: np.ndarray, seg_affine: np.ndarray, ct: Volume) -> np.ndarray:
    """Nearest-neighbour lookup of the SEG label map ``(slices, rows, cols)`` at every CT voxel centre."""
    shape = ct.array.shape[:3]
    to_seg = np.linalg.inv(seg_affine) @ np.asarray(ct.affine, dtype=np.float64)
    out = np.zeros(shape, dtype=labels.dtype)
    i, j = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    for k in range(shape[2]):  # one CT slice at a time: bounded memory on 512 x 512 x 1000 grids
        points = to_seg[:3, :3] @ np.stack([i.ravel(), j.ravel(), np.full(i.size, k)]) + to_seg[:3, 3:]
        index = np.rint(points).astype(np.int64)
        inside = np.all((index >= 0) & (index < np.array(labels.shape)[:, None]), axis=0)
        values = np.zeros(i.size, dtype=labels.dtype)
        values[inside] = labels[index[0, inside], index[1, inside], index[2, inside]]
        out[:, :, k] = values.reshape(i.shape)
    return out
