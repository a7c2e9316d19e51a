"""Reading the ``.npz`` archives the index keeps (BM25 matrix, Chinese vectors, the vector
snapshot) without numpy's header parser.

``np.load`` reads each array's header with ``ast.literal_eval``. On CPython 3.11 before 3.11.8
(gh-106905), two ``ast.parse`` calls on different threads can fail with "SystemError: AST
constructor recursion depth mismatch", and the app loads its index on background threads while
Streamlit parses its pages, and every query thread of a server may load a new build. The header
is a short dict literal written by ``np.savez``; it is read here with regular expressions. A
header this does not read (a structured dtype) goes to numpy under a lock.
"""

from __future__ import annotations

import re
import struct
import threading
import zipfile
from math import prod
from pathlib import Path
from typing import IO

import numpy as np

_MAGIC = b"\x93NUMPY"
_DESCR = re.compile(r"""['"]descr['"]\s*:\s*['"]([^'"]+)['"]""")
_FORTRAN = re.compile(r"""['"]fortran_order['"]\s*:\s*(True|False)""")
_SHAPE = re.compile(r"""['"]shape['"]\s*:\s*\(([^)]*)\)""")
_NUMPY_HEADER = threading.Lock()  # numpy's own parser: one thread at a time


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of the archive at ``path``, by name, as writable arrays. Raises OSError
    when it cannot be read, ``zipfile.BadZipFile`` or ValueError when it is damaged or holds
    objects (which would need pickle)."""
    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            with archive.open(name) as fh:
                out[name.removesuffix(".npy")] = _read_array(fh, name)
    return out


def read_npz_array(path: Path, name: str) -> np.ndarray:
    """One array of the archive at ``path``, read alone (KeyError when it holds no such array;
    otherwise as ``read_npz``)."""
    with zipfile.ZipFile(path) as archive, archive.open(f"{name}.npy") as fh:
        return _read_array(fh, name)


def _read_array(fh: IO[bytes], name: str) -> np.ndarray:
    if fh.read(len(_MAGIC)) != _MAGIC:
        raise ValueError(f"{name} is not a numpy array")
    version = fh.read(2)
    size = fh.read(2 if version[:1] == b"\x01" else 4)
    raw = fh.read(struct.unpack("<H" if len(size) == 2 else "<I", size)[0])
    header = raw.decode("utf-8" if version[:1] == b"\x03" else "latin1")
    descr, fortran, shape = _DESCR.search(header), _FORTRAN.search(header), _SHAPE.search(header)
    if not (descr and fortran and shape):
        return _numpy_read(fh, version + size + raw)
    dtype = np.dtype(descr.group(1))
    if dtype.hasobject:
        raise ValueError(f"{name} holds Python objects; it is not read")
    dims = tuple(int(d) for d in shape.group(1).replace(" ", "").split(",") if d)
    count = prod(dims)
    buffer = bytearray(count * dtype.itemsize)
    view, got = memoryview(buffer), 0
    while got < len(buffer):
        n = fh.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            raise ValueError(f"{name} is cut short")
        got += n
    array = np.frombuffer(buffer, dtype=dtype, count=count)
    return array.reshape(dims, order="F" if fortran.group(1) == "True" else "C")


def _numpy_read(fh: IO[bytes], read: bytes) -> np.ndarray:
    """An array whose header the expressions do not read, by numpy (the bytes ``read`` after
    the magic string put back in front)."""
    import io

    rest = io.BytesIO(_MAGIC + read + fh.read())
    with _NUMPY_HEADER:
        return np.lib.format.read_array(rest, allow_pickle=False)
