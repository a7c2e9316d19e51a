"""Reading the index's .npz archives without numpy's header parser (ingest.npz): every array
the index writes comes back equal, dtype, shape and order kept, and writable; what would need
pickle, or a damaged file, is refused."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from sharpnotes.ingest.atomic import write_npz_atomic
from sharpnotes.ingest.npz import read_npz

ARRAYS = {
    "vectors": np.random.default_rng(0).random((5, 384), dtype=np.float32),
    "ids": np.array(["c1", "chunk-22", "車道線"]),
    "meta": np.array('{"model": "minilm"}'),  # 0-d, as the snapshot keeps its meta
    "fortran": np.asfortranarray(np.arange(12, dtype=np.int64).reshape(3, 4)),
    "empty": np.zeros((0, 384), np.float32),
    "pairs": np.zeros(2, dtype=[("x", "<f4"), ("y", "<i4")]),  # read by numpy, under a lock
}


@pytest.mark.parametrize("write", ["atomic", "compressed"])
def test_what_the_index_writes_reads_back_equal(tmp_path: Path, write: str) -> None:
    path = tmp_path / "a.npz"
    if write == "atomic":
        write_npz_atomic(path, ARRAYS)
    else:
        np.savez_compressed(path, **ARRAYS)
    got = read_npz(path)
    assert set(got) == set(ARRAYS)
    for name, array in ARRAYS.items():
        assert got[name].dtype == array.dtype and got[name].shape == array.shape, name
        assert np.array_equal(got[name], array), name
        assert got[name].flags.writeable
    assert got["fortran"].flags.f_contiguous and str(got["meta"]) == '{"model": "minilm"}'


def test_objects_and_damaged_files_are_refused(tmp_path: Path) -> None:
    objects = tmp_path / "o.npz"
    np.savez(objects, o=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="objects"):
        read_npz(objects)
    cut = tmp_path / "cut.npz"
    write_npz_atomic(cut, {"vectors": ARRAYS["vectors"]})
    cut.write_bytes(cut.read_bytes()[:1000])
    with pytest.raises((zipfile.BadZipFile, ValueError, OSError)):
        read_npz(cut)
    with pytest.raises(FileNotFoundError):
        read_npz(tmp_path / "missing.npz")
