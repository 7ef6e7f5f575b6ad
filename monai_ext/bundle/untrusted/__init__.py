"""Loading a stranger's bundle without trusting it: bounded parsing, checked expressions and configs, contained
paths, a capped zip extraction, and metadata and weights refused before they allocate.

The modules are imported by their own names (``monai_ext.bundle.untrusted.safe_config`` and so on); this package
re-exports nothing, so importing one of them never imports the others.
"""
