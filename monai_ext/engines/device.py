"""Device choice: CUDA when present (with AMP), else CPU."""

from __future__ import annotations

import torch

__all__ = ["amp_enabled", "default_device"]


def default_device(preferred: str = "auto") -> torch.device:
    """The device to run on.

    Args:
        preferred: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Raises:
        RuntimeError: CUDA was asked for but is not available.

    Example:
        >>> default_device("cpu")
        device(type='cpu')
    """
    if preferred == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(preferred)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {preferred!r} was requested but CUDA is not available on this machine")
    return device


def amp_enabled(device: torch.device | str) -> bool:
    """Whether mixed precision is used: on CUDA yes, on CPU no (no fp16 speed-up there)."""
    return torch.device(device).type == "cuda"
