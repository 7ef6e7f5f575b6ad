"""A minimal NRRD reader/writer (numpy + stdlib) for the self-test runner, which must run in a bare PythonSlicer.

Handles single-file 3D NRRD with ``raw`` or ``gzip`` encoding in LPS/RAS space, as Slicer writes them. Arrays are
``(I, J, K)`` and matrices IJK-to-RAS, like NIfTI (see ``geometry``).
"""

from __future__ import annotations

import gzip
import re
import sys

import numpy as np

TYPES = {
    "float": "f4", "double": "f8", "short": "i2", "unsigned short": "u2", "int": "i4", "unsigned int": "u4",
    "signed char": "i1", "unsigned char": "u1", "uchar": "u1", "int8": "i1", "uint8": "u1", "int16": "i2",
    "uint16": "u2", "int32": "i4", "uint32": "u4", "float32": "f4", "float64": "f8",
}  # fmt: skip
NAMES = {"f4": "float", "f8": "double", "i2": "short", "u2": "unsigned short", "i4": "int", "u4": "unsigned int",
         "i1": "signed char", "u1": "unsigned char"}  # fmt: skip
SPACE_SIGNS = {"left-posterior-superior": (-1.0, -1.0, 1.0), "right-anterior-superior": (1.0, 1.0, 1.0)}


def readNrrd(path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as file:
        content = file.read()
    headerEnd = content.find(b"\n\n")
    if not content.startswith(b"NRRD") or headerEnd < 0:
        raise ValueError(f"{path} is not a single-file NRRD")
    fields = {}
    for line in content[:headerEnd].decode("latin-1").splitlines()[1:]:
        if line.startswith("#") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        fields[key.strip().lower()] = value.lstrip("=").strip()
    sizes = [int(size) for size in fields["sizes"].split()]
    if len(sizes) != 3:
        raise ValueError(f"{path}: only 3D scalar NRRD is supported, sizes are {sizes}")
    data = content[headerEnd + 2 :]
    if fields.get("encoding", "raw") in ("gzip", "gz"):
        data = gzip.decompress(data)
    elif fields.get("encoding", "raw") != "raw":
        raise ValueError(f"{path}: unsupported NRRD encoding {fields['encoding']}")
    endian = "<" if fields.get("endian", sys.byteorder) == "little" else ">"
    dtype = np.dtype(endian + TYPES[fields["type"]])
    array = np.frombuffer(data, dtype=dtype, count=int(np.prod(sizes))).reshape(sizes[::-1]).transpose(2, 1, 0)
    vectors = re.findall(r"\(([^)]*)\)", fields["space directions"])
    signs = np.array(SPACE_SIGNS[fields.get("space", "left-posterior-superior")])
    matrix = np.eye(4)
    matrix[:3, :3] = np.array([[float(v) for v in vector.split(",")] for vector in vectors]).T * signs[:, None]
    origin = re.findall(r"\(([^)]*)\)", fields.get("space origin", "(0,0,0)"))[0]
    matrix[:3, 3] = np.array([float(v) for v in origin.split(",")]) * signs
    return np.ascontiguousarray(array.astype(dtype.newbyteorder("="))), matrix


def writeNrrd(path, arrayIjk: np.ndarray, ijkToRas: np.ndarray, compress: bool = True) -> None:
    array = np.asarray(arrayIjk)
    if array.dtype.str[1:] not in NAMES:
        array = array.astype(np.float32)
    lps = np.diag([-1.0, -1.0, 1.0]) @ np.asarray(ijkToRas, dtype=float)[:3]
    directions = " ".join("(" + ",".join(repr(float(v)) for v in lps[:, axis]) + ")" for axis in range(3))
    header = [
        "NRRD0004", f"type: {NAMES[array.dtype.str[1:]]}", "dimension: 3", "space: left-posterior-superior",
        "sizes: " + " ".join(str(size) for size in array.shape), f"space directions: {directions}",
        "kinds: domain domain domain", f"endian: {sys.byteorder}", f"encoding: {'gzip' if compress else 'raw'}",
        "space origin: (" + ",".join(repr(float(v)) for v in lps[:, 3]) + ")",
    ]  # fmt: skip
    data = np.ascontiguousarray(array.transpose(2, 1, 0)).tobytes()
    with open(path, "wb") as file:
        file.write(("\n".join(header) + "\n\n").encode("latin-1"))
        file.write(gzip.compress(data, compresslevel=1) if compress else data)
