"""The index on disk: folders and files that only their owner can read (the index holds the text
of every note), and a one-line explanation, with what to do, when the disk refuses a write.

Chroma and bm25s create their own files with the process umask; rather than change the umask of a
process that may be serving the app (it is global to every thread), the index folders are made
0700 before anything is written in them and everything under the index is set to 0700/0600 after
an ingest, so no file is reachable by other users even while it is being written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_LOW_SPACE = 2 * 2**20  # free bytes under which an unexplained write failure is a full disk

# how SQLite (also inside Chroma) and the OS word the two failures a user can fix
_FULL = ("no space left", "disk is full", "database or disk is full", "(code: 13)", "quota")
_READ_ONLY = (
    "readonly database",
    "permission denied",
    "unable to open database file",
    "(code: 8)",
    "(code: 14)",
)


def private_dir(path: Path) -> None:
    """Create ``path`` and any missing parents for the user alone (0700); an existing folder
    loses what group and others could do (it is one of the index's own, e.g. made by an older
    sharpnotes). Nothing is ever granted: a folder the user made read-only stays read-only."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        os.chmod(folder, PRIVATE_DIR)  # mkdir's mode is masked by the umask
    _owner_only(path)


def private_file(path: Path) -> None:
    """An existing file for the user alone (nothing if it is not there)."""
    with contextlib.suppress(FileNotFoundError):
        _owner_only(path)


def private_db(path: Path) -> None:
    """A SQLite file for the user alone, made before SQLite opens it (its WAL and shared-memory
    files take its mode): the review history, mock sessions and app state hold your answers."""
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE))
    except FileExistsError:
        _owner_only(path)


def private_tree(folder: Path) -> None:
    """Everything under ``folder`` for the user alone (links are left alone). Best effort: it
    runs after an ingest, also one that failed, and must not hide why it failed."""
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in (*dirnames, *filenames):
            try:
                _owner_only(Path(dirpath, name))
            except OSError:  # removed meanwhile (an old BM25 build), or a read-only disk
                continue


def _owner_only(path: Path) -> None:
    """Drop the group and other bits of ``path`` (not a link): 0755 -> 0700, 0644 -> 0600."""
    mode = os.lstat(path).st_mode
    if not stat.S_ISLNK(mode) and mode & 0o077:
        os.chmod(path, stat.S_IMODE(mode) & ~0o077)


def storage_problem(exc: BaseException, folder: Path) -> str | None:
    """What to tell the user when writing or opening the index under ``folder`` failed because
    the disk is full or cannot be written; None for any other failure."""
    text = " ".join(str(exc).split()).lower()
    code = getattr(exc, "errno", None)
    where = Path(getattr(exc, "filename", None) or folder)
    if code in (errno.ENOSPC, errno.EDQUOT) or any(s in text for s in _FULL):
        return full_disk(folder)
    if code == errno.EROFS or "read-only file system" in text or _read_only(folder):
        return cannot_write(where, "read-only file system")
    # a full disk in other words: SQLite's "disk I/O error" or "unable to open database file"
    # (no room for its -shm file), Chroma's "Error in compaction"
    if _free_bytes(folder) < _LOW_SPACE:
        return full_disk(folder)
    if code in (errno.EACCES, errno.EPERM) or any(s in text for s in _READ_ONLY):
        return cannot_write(where, "permission denied")
    return None


def cannot_write(where: Path, why: str) -> str:
    return (
        f"cannot write the index under {where} ({why}); make that folder writable, or set "
        "SHARPNOTES_HOME to a folder you can write"
    )


def full_disk(folder: Path) -> str:
    free = _free_bytes(folder)
    return (
        f"the disk holding {folder} is full ({free / 2**20:.1f} MB free); free some space and "
        "run the command again (an interrupted ingest resumes where it stopped)"
    )


def _read_only(folder: Path) -> bool:
    for candidate in (folder, *folder.parents):
        try:
            return bool(os.statvfs(candidate).f_flag & os.ST_RDONLY)
        except OSError:
            continue
    return False


def _free_bytes(folder: Path) -> int:
    for candidate in (folder, *folder.parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return 1 << 62
