"""Loss weights against class imbalance."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

__all__ = ["class_weights"]


def class_weights(cases: Iterable[Mapping[str, Any]], *, num_classes: int, power: float = 0.5) -> torch.Tensor:
    """Per-class loss weights ``(count_max / count_c) ** power`` from the cases' ``label`` fields.

    ``power=1`` fully balances the classes, ``0.5`` (default) half-way in log scale, ``0`` gives ones.

    Args:
        cases: items with an integer ``"label"`` (a MONAI ``Dataset`` works: its ``data`` is used).
        num_classes: number of classes.
        power: strength of the re-weighting.

    Returns:
        Float32 tensor ``(num_classes,)``, the most frequent class weighted 1.

    Raises:
        ValueError: a class has no case.

    Example:
        >>> class_weights([{"label": 0}] * 4 + [{"label": 1}], num_classes=2, power=1.0).tolist()
        [1.0, 4.0]
    """
    items = getattr(cases, "data", cases)
    counts = torch.zeros(num_classes)
    for item in items:
        label = int(item["label"])
        if 0 <= label < num_classes:
            counts[label] += 1
    if (counts == 0).any():
        raise ValueError(f"every class needs at least one training case; counts per class: {counts.tolist()}")
    return (counts.max() / counts) ** power
