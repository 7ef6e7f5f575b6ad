"""Key handling shared by the dictionary transforms (private)."""

from __future__ import annotations

from collections.abc import Hashable

from monai.config import KeysCollection
from monai.utils import ensure_tuple


def check_label_keys(keys: tuple[Hashable, ...], label_keys: KeysCollection) -> frozenset[Hashable]:
    """Return ``label_keys`` as a set after checking that it is a subset of ``keys``.

    Args:
        keys: all keys a dictionary transform handles.
        label_keys: the keys among them that hold label maps (a single key or a collection).

    Raises:
        ValueError: some label key is not in ``keys``.
    """
    labels = frozenset(ensure_tuple(label_keys))
    unknown = labels.difference(keys)
    if unknown:
        raise ValueError(f"label_keys {sorted(map(str, unknown))} are not among keys {list(keys)}.")
    return labels
