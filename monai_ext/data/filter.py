"""Keep only the cases of some labels (e.g. the normal cases an anomaly detector is trained on)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from monai.data import Dataset

from monai_ext.data.cases import load_cases
from monai_ext.data.npz import DatasetError

__all__ = ["label_case_dataset", "select_labels"]


def select_labels(cases: Iterable[dict[str, Any]], labels: Sequence[int] | None) -> list[dict[str, Any]]:
    """The cases whose ``"label"`` is one of ``labels``, in their order (``None`` keeps all).

    Example:
        >>> select_labels([{"label": 0}, {"label": 1}, {"label": 0}], [0])
        [{'label': 0}, {'label': 0}]
    """
    if labels is None:
        return list(cases)
    wanted = {int(v) for v in labels}
    return [case for case in cases if int(case["label"]) in wanted]


def label_case_dataset(
    dataset_path: str | os.PathLike[str],
    split: str,
    *,
    spatial_size: Sequence[int],
    labels: Sequence[int] | None = None,
    limit: int | None = None,
) -> Dataset:
    """:func:`~monai_ext.data.load_cases` restricted to ``labels``, as a MONAI Dataset.

    ``limit`` applies before the selection (the first ``limit`` cases of the split, then those of ``labels``).

    Raises:
        DatasetError: as :func:`~monai_ext.data.load_cases`, or no case of ``labels`` is left.
    """
    cases = select_labels(load_cases(dataset_path, split, spatial_size=spatial_size, limit=limit), labels)
    if not cases:
        raise DatasetError(dataset_path, f"split {split!r} holds no case with a label in {list(labels or [])}")
    return Dataset(data=cases)
