"""Which DICOM files a volume node was loaded from, for DICOM results that reference the source series.

Slicer's DICOM module tags every volume it loads with the ``DICOM.instanceUIDs`` attribute (the SOP Instance UIDs,
space-separated); ``slicer.dicomDatabase.fileForInstance(uid)`` gives each instance's file ("" when the database no
longer has it). A DICOM SEG, parametric map or SR made from such a volume must name that series, so the worker gets
the files as ``dicom_source``; without them the results are not written as DICOM at all (never with made-up
references).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

INSTANCE_UIDS_ATTRIBUTE = "DICOM.instanceUIDs"

try:
    from slicer.i18n import tr as _
except ImportError:  # slicer-core has no translation layer

    def _(text):
        return text


@dataclass(frozen=True)
class DicomSource:
    """``files``: the node's DICOM files (in the node's instance order); ``reason``: why there are none."""

    files: list = field(default_factory=list)
    reason: str = ""


def defaultDatabase():
    """Slicer's open DICOM database, or ``None`` (no DICOM module, no database, slicer-core)."""
    try:
        import slicer
    except ImportError:
        return None
    database = getattr(slicer, "dicomDatabase", None)
    return database if database is not None and bool(getattr(database, "isOpen", False)) else None


def dicomSourceOf(node, database=None) -> DicomSource:
    """The DICOM files ``node`` was loaded from, or the reason it has none.

    Args:
        node: a volume node (``None``: no input).
        database: a ``ctkDICOMDatabase``-like object (``fileForInstance(uid) -> str``); default: Slicer's.
    """
    uids = (node.GetAttribute(INSTANCE_UIDS_ATTRIBUTE) or "").split() if node is not None else []
    if not uids:
        what = node.GetName() if node is not None else _("the segmentation has no reference volume, which")
        return DicomSource(reason=_("DICOM results need a volume loaded from Slicer's DICOM database; "
                                    "{name} was not, so no DICOM results were written.").format(name=what))  # fmt: skip
    database = database if database is not None else defaultDatabase()
    if database is None:
        return DicomSource(reason=_("DICOM results were not written: Slicer's DICOM database is not open."))
    files = [database.fileForInstance(uid) or "" for uid in uids]
    missing = [uid for uid, path in zip(uids, files) if not path or not os.path.isfile(path)]
    if missing:
        return DicomSource(reason=_("DICOM results were not written: {count} of the {total} DICOM files of {name} "
                                    "are no longer in the DICOM database (first: {uid}).").format(
            count=len(missing), total=len(uids), name=node.GetName(), uid=missing[0]))  # fmt: skip
    return DicomSource(files=[str(path) for path in files])
