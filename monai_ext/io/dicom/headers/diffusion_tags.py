"""Diffusion b-value and gradient direction of one image, from the public tags or each vendor's own.

Every direction is returned in DICOM patient coordinates (LPS, unit length), whatever frame the vendor used:

- public ``DiffusionBValue`` / ``DiffusionGradientOrientation`` (Philips, Siemens XA, old Toshiba): patient frame;
- Siemens classic (0019,100C) / (0019,100E): patient frame;
- Philips private (2001,1003) and (2005,10B0-10B2): patient frame (RL, AP, FH = L, P, S axes);
- GE (0043,1039)[0] b-value, (0019,10BB-10BD): logical frequency, phase and slice axes ``(f, p, s)``; in
  image axes (row direction, column direction, normal) that is ``(-f, -p, s)`` with the phase encoded along the
  columns (0018,1312 ``COL``) and ``(-p, f, s)`` along the rows, with the second component negated for coronal
  slices (the sign of a direction is immaterial to diffusion; these axes follow dcm2niix's GE rules and are
  validated on axial ``COL`` data); a vector shorter than
  unit length scales the nominal b-value by its squared length (GE's multi-shell encoding);
- Canon classic: ``ImageComments`` ``b=1500(a,b,c)``: image axes, ``(-b, -a, c)`` along (row direction,
  column direction, normal) (as dcm2niix reads them; validated on the dcm_qa_canon DTI).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from monai_ext.io.dicom.headers.header_values import first_float, float_tuple

__all__ = ["DIFFUSION_KEYWORDS", "read_diffusion"]

DIFFUSION_KEYWORDS: tuple[str, ...] = (
    "DiffusionBValue", "DiffusionGradientOrientation", "ImageComments", "InPlanePhaseEncodingDirection",
    "SiemensBValue", "SiemensDiffusionDirection", "GEBValue", "GEDiffusionFreq", "GEDiffusionPhase",
    "GEDiffusionSlice", "PhilipsBValue", "PhilipsDiffusionRL", "PhilipsDiffusionAP", "PhilipsDiffusionFH",
)  # fmt: skip

_COMMENT = re.compile(r"b\s*=\s*([-+0-9.eE]+)\s*\(\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)\s*\)")
_GE_FLAG_MODULUS = 1_000_000_000  # GE adds flags in the high digits of the b-value (1000001000 -> 1000)


def _unit(vector: tuple[float, ...] | None) -> tuple[float, float, float] | None:
    if vector is None or len(vector) != 3:
        return None
    norm = math.sqrt(sum(v * v for v in vector))
    if not math.isfinite(norm) or norm < 1e-6:
        return None
    return (vector[0] / norm, vector[1] / norm, vector[2] / norm)


def _to_patient(vector: tuple[float, float, float], orientation: tuple[float, ...] | None) -> tuple[float, ...] | None:
    """``vector`` along (row direction, column direction, normal) as LPS components (plain floats: it runs per
    image, where numpy's overhead would dominate)."""
    if orientation is None or len(orientation) != 6:
        return None
    r0, r1, r2, c0, c1, c2 = orientation
    n0, n1, n2 = r1 * c2 - r2 * c1, r2 * c0 - r0 * c2, r0 * c1 - r1 * c0
    norm = math.sqrt(n0 * n0 + n1 * n1 + n2 * n2)
    if norm < 1e-6:
        return None
    x, y, z = vector
    return (
        x * r0 + y * c0 + z * n0 / norm,
        x * r1 + y * c1 + z * n1 / norm,
        x * r2 + y * c2 + z * n2 / norm,
    )


def _dominant_axis(orientation: tuple[float, ...] | None) -> int | None:
    """0, 1 or 2: the patient axis (L, P, S) closest to the slice normal (sagittal, coronal, axial)."""
    if orientation is None or len(orientation) != 6:
        return None
    r0, r1, r2, c0, c1, c2 = orientation
    normal = (abs(r1 * c2 - r2 * c1), abs(r2 * c0 - r0 * c2), abs(r0 * c1 - r1 * c0))
    return normal.index(max(normal))


def _ge(get: Callable[..., Any], orientation: tuple[float, ...] | None) -> tuple[float | None, tuple | None]:
    raw_b = first_float(get("GEBValue"))
    if raw_b is None:
        return None, None
    b_value = float(raw_b % _GE_FLAG_MODULUS)
    logical = tuple(first_float(get(k)) for k in ("GEDiffusionFreq", "GEDiffusionPhase", "GEDiffusionSlice"))
    if any(v is None for v in logical):
        return b_value, None
    freq, phase, slice_ = (float(v) for v in logical if v is not None)
    length = math.sqrt(freq * freq + phase * phase + slice_ * slice_)
    if 0.03 < length < 0.97:  # multi-shell GE: one nominal b-value, the shell given by the vector's length
        b_value *= length * length
    if str(get("InPlanePhaseEncodingDirection", "COL")).upper().startswith("ROW"):
        image = (-phase, freq, slice_)
    else:
        image = (-freq, -phase, slice_)
    if _dominant_axis(orientation) == 1:  # coronal slices: GE's logical phase axis points the other way
        image = (image[0], -image[1], image[2])
    unit = _unit(image)
    return b_value, (_to_patient(unit, orientation) if unit else None)


def read_diffusion(
    get: Callable[..., Any], orientation: tuple[float, ...] | None, manufacturer: str
) -> tuple[float | None, tuple[float, float, float] | None]:
    """b-value (s/mm^2) and unit gradient direction (LPS) of one image; ``None`` where not recorded.

    Args:
        get: ``get(keyword, default=None)`` accessor over the image's header (see :data:`DIFFUSION_KEYWORDS`).
        orientation: the image's ``ImageOrientationPatient``, to bring image-frame directions to patient axes.
        manufacturer: ``Manufacturer`` (selects the vendor's private tags).
    """
    maker = manufacturer.upper()
    b_value = first_float(get("DiffusionBValue"))
    direction = _unit(float_tuple(get("DiffusionGradientOrientation")))
    if maker.startswith("GE"):
        ge_b, ge_dir = _ge(get, orientation)
        return (ge_b if ge_b is not None else b_value), (_unit(ge_dir) if ge_dir else direction)
    if maker.startswith(("CANON", "TOSHIBA")) and direction is None:
        match = _COMMENT.search(str(get("ImageComments", "") or ""))
        if match:
            b_value = float(match.group(1)) if b_value is None else b_value
            a, b, c = (float(match.group(i)) for i in (2, 3, 4))
            unit = _unit((-b, -a, c))
            direction = _unit(_to_patient(unit, orientation)) if unit else None
    if maker.startswith("SIEMENS"):
        b_value = b_value if b_value is not None else first_float(get("SiemensBValue"))
        direction = direction or _unit(float_tuple(get("SiemensDiffusionDirection")))
    if maker.startswith("PHILIPS"):
        b_value = b_value if b_value is not None else first_float(get("PhilipsBValue"))
        if direction is None:
            parts = tuple(
                first_float(get(k)) for k in ("PhilipsDiffusionRL", "PhilipsDiffusionAP", "PhilipsDiffusionFH")
            )
            direction = _unit(parts) if all(p is not None for p in parts) else None  # type: ignore[arg-type]
    return b_value, direction
