"""The sandboxed child of :func:`~monai_ext.sandbox.isolate.run_sandboxed`: apply the policy, then run the target.

Usage (internal): ``python -m monai_ext.sandbox.child SPEC_JSON`` with ``{"target": "module:function",
"arguments": {...}, "policy": {...}}``. Only the standard library is imported before the sandbox is applied.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback

from monai_ext.sandbox.apply import apply_sandbox
from monai_ext.sandbox.isolate import policy_from_json

__all__ = ["main"]


def main(argv: list[str]) -> int:
    """Apply the spec's policy, call its target with its arguments, and return the target's exit code."""
    spec = json.loads(argv[1])
    policy = policy_from_json(spec["policy"])
    try:
        apply_sandbox(policy)
    except OSError as err:  # e.g. an output folder that cannot be created
        print(f"error: cannot set up the sandbox: {err}", file=sys.stderr)
        return 2
    module, _, function = spec["target"].partition(":")
    try:
        return int(getattr(importlib.import_module(module), function)(spec["arguments"]) or 0)
    except MemoryError:
        limit = policy.limits.resolved_memory() / (1 << 30)
        print(f"error: MemoryError: the run needed more than the sandbox's {limit:.3g} GiB memory cap", file=sys.stderr)
        return 2
    except Exception:
        traceback.print_exc()
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
