"""Case identifiers of the batch an engine just processed."""

from __future__ import annotations

from typing import Any

__all__ = ["batch_case_ids"]


def batch_case_ids(batch: Any, count: int, *, start: int = 0, key: str = "case_id") -> list[str]:
    """The ``count`` case names of ``engine.state.batch``.

    The batch is a collated dict of sequences or, since MONAI engines decollate after the iteration, a list of
    per-case dicts. A case without ``key`` is named by its running index ``start + i``.
    """
    if isinstance(batch, dict):
        found = batch.get(key)
        ids = list(found) if found is not None else []
    elif isinstance(batch, list):
        ids = [item.get(key) if isinstance(item, dict) else None for item in batch]
    else:
        ids = []
    ids += [None] * (count - len(ids))
    return [str(ids[i]) if ids[i] is not None else str(start + i) for i in range(count)]
