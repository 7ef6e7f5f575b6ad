"""Refuse a weights file that would allocate more than the network it is for, before ``torch.load`` reads it.

``torch.save`` writes a zip whose tensor storages are stored uncompressed, one entry each. A hostile file can
hold a deflate-compressed storage of gigabytes in a few megabytes, and ``torch.load`` would allocate it all
before any check. :func:`check_weights_size` reads only the zip directory (declared sizes, which bound what
``torch.load`` allocates) and compares them with the network's own state dict.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from torch import nn

from monai_ext.bundle.errors import BundleLimitError, WeightsError

__all__ = ["SLACK_BYTES", "check_weights_size", "state_dict_bytes"]

SLACK_BYTES = 16 << 20  # the pickle, version records and alignment padding around the storages


def state_dict_bytes(network: nn.Module) -> int:
    """Bytes of ``network``'s parameters and buffers (what its weights file must hold)."""
    return sum(t.numel() * t.element_size() for t in network.state_dict().values())


def check_weights_size(weights: Path, expected_bytes: int, *, budget_bytes: int) -> None:
    """Refuse ``weights`` unless what loading it allocates fits the network (and the budget).

    Args:
        weights: a ``torch.save`` file (zip, or the legacy format, bounded by its file size).
        expected_bytes: :func:`state_dict_bytes` of the network it is loaded into.
        budget_bytes: the most bytes any weights file may expand to.

    Raises:
        WeightsError: an unreadable zip directory.
        BundleLimitError: an entry or the total is larger than the network needs, or than the budget.
    """
    allowed = min(int(expected_bytes * 1.05) + SLACK_BYTES, budget_bytes)
    if not zipfile.is_zipfile(weights):
        if weights.stat().st_size > allowed:
            raise BundleLimitError(f"{weights.stat().st_size} bytes, more than the network needs ({allowed})", weights)
        return
    try:
        with zipfile.ZipFile(weights) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, OSError) as err:
        raise WeightsError(f"a damaged weights archive ({err})", weights) from err
    total = 0
    for member in members:
        if member.file_size > allowed:
            raise BundleLimitError(
                f"the entry {member.filename!r} expands to {member.file_size} bytes, more than the whole network "
                f"needs ({allowed})",
                weights,
            )
        total += member.file_size
        if total > allowed:
            raise BundleLimitError(f"the entries expand to more than the network needs ({allowed} bytes)", weights)
