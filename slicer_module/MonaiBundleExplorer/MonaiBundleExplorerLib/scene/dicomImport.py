"""Import the DICOM objects the worker wrote (SEG, parametric maps, SR) into Slicer's DICOM database.

Guarded: in a Slicer without the DICOM module (``--disable-scripted-loadable-modules``, slicer-core in CI) or without
an open database, nothing is imported and ``importFolder`` returns False.
"""

from __future__ import annotations

import logging
from pathlib import Path


def dicomAvailable() -> bool:
    try:
        import slicer
        from DICOMLib import DICOMUtils  # noqa: F401  (Slicer's DICOM module; absent outside Slicer)
    except ImportError:
        return False
    modules = getattr(slicer, "modules", None)
    database = getattr(slicer, "dicomDatabase", None)
    return hasattr(modules, "dicom") and database is not None and bool(database.isOpen)


def importFolder(folder) -> bool:
    """Copy every DICOM file under ``folder`` into the database (the work folder is deleted afterwards)."""
    if not Path(folder).is_dir() or not any(Path(folder).rglob("*")):
        return False
    if not dicomAvailable():
        logging.info("MonaiBundleExplorer: DICOM module or database unavailable; %s was not imported", folder)
        return False
    import slicer
    from DICOMLib import DICOMUtils

    # importDicom(dicomDataDir, dicomDatabase=None, copyFiles=False): copy, since the work folder is temporary.
    return bool(DICOMUtils.importDicom(str(folder), slicer.dicomDatabase, copyFiles=True))
