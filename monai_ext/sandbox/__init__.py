"""Defence in depth for untrusted bundles: the process that runs one gives up the network, writes outside its
output and temp folders, reads of private files, child processes and unbounded resources (Linux, no root).

- :func:`apply_sandbox` restricts the calling process (the Slicer worker); :func:`run_sandboxed` runs a task in
  a sandboxed child (the ``monai-ext infer`` CLI).
- :class:`Protections` records which protections are active and why a missing one is missing; it goes into
  ``result.json`` under ``"protections"`` (:func:`current_protections`).

Example:
    >>> from monai_ext.sandbox import current_protections
    >>> "seccomp" in current_protections().to_json()["items"]
    True
"""

from __future__ import annotations

from monai_ext.sandbox.apply import apply_sandbox, current_protections, not_sandboxed
from monai_ext.sandbox.isolate import run_sandboxed
from monai_ext.sandbox.limits import ResourceLimits
from monai_ext.sandbox.policy import SandboxPolicy
from monai_ext.sandbox.protections import Protection, Protections

__all__ = [
    "Protection",
    "Protections",
    "ResourceLimits",
    "SandboxPolicy",
    "apply_sandbox",
    "current_protections",
    "not_sandboxed",
    "run_sandboxed",
]
