"""Crash-safe file writes: a temporary file in the same folder, fsynced, then renamed over the
target, so a reader sees the old content or the new, never half of it."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def fsync_path(path: Path) -> None:
    """fsync a file or folder by path (a folder, so that a rename in it is durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: object, indent: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=indent)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_path(path.parent)


def write_npz_atomic(path: Path, arrays: dict) -> None:
    """numpy arrays to ``path`` (``.npz``) through ``.NAME.tmp`` beside it (``remove_others``
    removes one that a killed write left)."""
    import numpy as np

    tmp = path.parent / f".{path.name}.tmp"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    fsync_path(tmp)
    os.replace(tmp, path)
    fsync_path(path.parent)


def remove_others(folder: Path, prefix: str, keep: Path | None) -> None:
    """Every ``PREFIX*.npz`` file of ``folder`` but ``keep`` (the files of older builds), and
    the temporary files of writes that were killed."""
    for old in folder.glob(f"{prefix}*.npz"):
        if old != keep:
            old.unlink(missing_ok=True)
    for tmp in folder.glob(f".{prefix}*.npz.tmp"):
        tmp.unlink(missing_ok=True)
