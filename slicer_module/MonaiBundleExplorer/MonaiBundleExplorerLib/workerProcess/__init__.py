"""The separate inference process and its environment: the worker script (stdlib only, run by the
worker Python), starting, polling and cancelling it, the worker venv (probe, plan, install) and its Slicer dialogs.
"""
