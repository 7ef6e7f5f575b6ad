"""Popen keyword arguments shared by every process the module starts (stdlib only).

On Windows a console program started from a GUI opens a console window unless told not to: Slicer's own
``slicer.util.launchConsoleProcess`` passes a ``STARTUPINFO`` with ``wShowWindow = SW_HIDE``; we do the same and add
``CREATE_NO_WINDOW``. Elsewhere these are empty.
"""

from __future__ import annotations

import os
import subprocess


def hiddenWindowOptions() -> dict:
    """``startupinfo``/``creationflags`` that keep a console window from flashing up on Windows."""
    if os.name != "nt":
        return {}
    info = subprocess.STARTUPINFO()
    info.dwFlags |= subprocess.STARTF_USESHOWWINDOW
    info.wShowWindow = 0  # SW_HIDE
    return {"startupinfo": info, "creationflags": subprocess.CREATE_NO_WINDOW}


def workerProcessOptions() -> dict:
    """Hidden window plus a process group of its own (so cancel can stop the worker and its children)."""
    if os.name != "nt":
        return {"start_new_session": True}
    options = hiddenWindowOptions()
    options["creationflags"] |= subprocess.CREATE_NEW_PROCESS_GROUP
    return options
