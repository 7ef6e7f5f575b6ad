"""Encoder strides that follow the input's voxel size, so one recipe fits a 64^3 and a 28^3 cube alike."""

from __future__ import annotations

__all__ = ["stage_strides"]


def stage_strides(voxel_size_mm: float, *, stages: int = 4, stem_mm: float = 2.0) -> list[int]:
    """Strides of a strided encoder whose first stage works at about ``stem_mm`` voxels.

    The stem downsamples by ``max(1, round(stem_mm / voxel_size_mm))``; every later stage by 2. A 64 mm cube at
    1 mm (64^3) gets ``[2, 2, 2, 2]`` (stages at 2, 4, 8, 16 mm; last map 4^3); the same cube at 64/28 mm (28^3)
    gets ``[1, 2, 2, 2]``: its voxels are already as coarse as the 64^3 stem's output, and a stride-2 stem would
    leave a 2^3 last map, too small for the features or a Grad-CAM.

    Args:
        voxel_size_mm: the input's voxel size in mm.
        stages: number of encoder stages.
        stem_mm: target voxel size of the first stage's output.

    Example:
        >>> stage_strides(1.0), stage_strides(64 / 28)
        ([2, 2, 2, 2], [1, 2, 2, 2])
    """
    if voxel_size_mm <= 0 or stem_mm <= 0 or stages < 1:
        raise ValueError(f"need positive voxel_size_mm, stem_mm and stages, got {voxel_size_mm}, {stem_mm}, {stages}")
    return [max(1, round(stem_mm / voxel_size_mm))] + [2] * (stages - 1)
