#!/usr/bin/env bash
# MRML tests of the Slicer module against Slicer's real MRML libraries (the slicer-core wheel), without Slicer,
# and the panel walkthrough (real Qt from PySide6, offscreen, driving real MRML).
# slicer-core pins vtk==9.6.2 and ships cp311 wheels, so it gets its own venv (never the main .venv).
# Idempotent: the venv is rebuilt only when requirements/slicer-core.txt changes (stamp file).
set -euo pipefail
cd "$(dirname "$0")/.."
SLICER_VENV="${SLICER_VENV:-.venv-slicer}"
SLICER_PYTHON="${SLICER_PYTHON:-python3.11}"
REQUIREMENTS=requirements/slicer-core.txt
STAMP="$SLICER_VENV/.installed"

if ! command -v "$SLICER_PYTHON" >/dev/null; then
  echo "slicer_env: $SLICER_PYTHON not found (slicer-core has cp311 wheels only)" >&2
  exit 1
fi
if [ ! -x "$SLICER_VENV/bin/python" ]; then
  "$SLICER_PYTHON" -m venv "$SLICER_VENV"
fi
if [ ! -f "$STAMP" ] || [ "$REQUIREMENTS" -nt "$STAMP" ]; then
  "$SLICER_VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS"
  touch "$STAMP"
fi
# The walkthrough renders the panel with PySide6 (in requirements/slicer-core.txt): no display in CI.
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
"$SLICER_VENV/bin/python" -m pytest tests/slicer_module/mrml -q -p no:cacheprovider "$@"
