"""Vendor private elements the loader reads, under pseudo-keywords, with the VR to decode them as.

Private elements have no keyword in the DICOM dictionary, and in implicit-VR files no VR either. Like dcm2niix,
the loader reads them at their customary element numbers (private block ``10``), which is how the vendors
write them. Text elements declared ``CS``/``DS``/``IS`` here are decoded as ASCII; binary ones as little- or
big-endian numbers.
"""

from __future__ import annotations

__all__ = ["PRIVATE_TAGS"]

PRIVATE_TAGS: dict[str, tuple[int, str]] = {
    # Siemens (creator "SIEMENS MR HEADER"): mosaic tile count, diffusion b-value and direction (patient frame)
    "SiemensNumberOfImagesInMosaic": (0x0019100A, "US"),
    "SiemensBValue": (0x0019100C, "IS"),
    "SiemensDiffusionDirection": (0x0019100E, "FD"),
    # GE (GEMS_ACQU_01 / GEMS_PARM_01): pulse sequence, diffusion direction in logical (freq, phase, slice)
    # axes, b-value as the first of slop_int_6..9, and the complex image part (0 M, 1 P, 2 R, 3 I)
    "GEPulseSequenceName": (0x0019109C, "CS"),
    "GEDiffusionFreq": (0x001910BB, "DS"),
    "GEDiffusionPhase": (0x001910BC, "DS"),
    "GEDiffusionSlice": (0x001910BD, "DS"),
    "GEBValue": (0x00431039, "IS"),
    "GEImageType": (0x0043102F, "SS"),
    # Philips (Philips Imaging DD 001 / Philips MR Imaging DD 001): b-factor and direction (patient RL, AP, FH)
    "PhilipsBValue": (0x20011003, "FL"),
    "PhilipsDiffusionRL": (0x200510B0, "FL"),
    "PhilipsDiffusionAP": (0x200510B1, "FL"),
    "PhilipsDiffusionFH": (0x200510B2, "FL"),
}
