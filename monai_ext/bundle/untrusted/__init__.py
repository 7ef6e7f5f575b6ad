"""Loading a stranger's bundle without trusting it: bounded parsing, checked expressions and configs, contained
paths, a capped zip extraction, and metadata and weights refused before they allocate.

The modules are imported by their own names (``monai_ext.bundle.untrusted.safe_config`` and so on). This package
re-exports nothing, so importing one module imports only what that module needs: ``policy.kinds`` imports
``safe_expr``, and ``safe_config`` imports ``policy``, without a cycle through this ``__init__``.
"""
