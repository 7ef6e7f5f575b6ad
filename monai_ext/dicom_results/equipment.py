"""Who made a result: the algorithm (bundle) and the equipment attributes every object carries."""

from __future__ import annotations

from dataclasses import dataclass

import highdicom as hd
from pydicom.sr.codedict import codes

import monai_ext

__all__ = ["MANUFACTURER", "Algorithm"]

MANUFACTURER = "monai-ext"


@dataclass(frozen=True, kw_only=True)
class Algorithm:
    """The bundle that produced a result.

    Attributes:
        name: the bundle's name.
        version: the bundle's version.
        weights_sha256: digest of its weights (recorded as the device serial number).
    """

    name: str
    version: str = "0"
    weights_sha256: str = ""

    def identification(self) -> hd.AlgorithmIdentificationSequence:
        """For SEG segment descriptions (family: artificial intelligence)."""
        return hd.AlgorithmIdentificationSequence(
            name=self.name[:64], family=codes.cid7162.ArtificialIntelligence, version=self.version[:64]
        )

    def sr_identification(self) -> hd.sr.AlgorithmIdentification:
        """For SR measurement groups (TID 4019)."""
        return hd.sr.AlgorithmIdentification(name=self.name[:64], version=self.version[:64])

    @property
    def model_name(self) -> str:
        """``ManufacturerModelName``: the bundle's name."""
        return self.name[:64]

    @property
    def software_versions(self) -> str:
        """``SoftwareVersions``: monai-ext's version."""
        return f"monai-ext {monai_ext.__version__}"

    @property
    def serial_number(self) -> str:
        """``DeviceSerialNumber``: the weights' SHA-256 (first 64 characters)."""
        return (self.weights_sha256 or "unknown")[:64]
