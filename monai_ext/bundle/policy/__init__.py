"""The reviewed allow-list of what an untrusted bundle may build, and the checks of each argument's value.

The policy itself is data: :file:`allowlist.yaml` in this folder. :func:`load_policy` reads it into typed
records; :func:`~monai_ext.bundle.policy.kinds.check_value` checks one resolved argument against its rule.
"""

from __future__ import annotations

from monai_ext.bundle.policy.allowlist import (
    POLICY_PATH,
    ROLES,
    ArgRule,
    Limits,
    Policy,
    PolicyFileError,
    ReviewedClass,
    load_policy,
)
from monai_ext.bundle.policy.kinds import KINDS, check_value

__all__ = [
    "KINDS",
    "POLICY_PATH",
    "ROLES",
    "ArgRule",
    "Limits",
    "Policy",
    "PolicyFileError",
    "ReviewedClass",
    "check_value",
    "load_policy",
]
