"""Safe access to note files: reading a note by its indexed source path, and naming uploads.

Both take names that come from outside (a catalog row, a browser upload) and must never reach
a file outside the notes root: no ``..``, no absolute paths, no symlinks leading out."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path, PurePosixPath

UPLOAD_TYPES = (".md", ".txt", ".pdf")
MAX_NAME = 120


class NoteAccessError(ValueError):
    """The requested path is not a readable note inside the notes root."""


def resolve_note(root: Path, source: str) -> Path:
    """The file ``source`` (relative, ``/``-separated) under ``root``, after checking that it
    is really inside ``root`` once every symlink is resolved."""
    if not source or "\x00" in source:
        raise NoteAccessError("empty note path")
    rel = PurePosixPath(source.replace("\\", "/"))
    if rel.is_absolute() or re.match(r"^[A-Za-z]:", source):
        raise NoteAccessError(f"{source}: absolute paths are not notes")
    if any(part == ".." for part in rel.parts):
        raise NoteAccessError(f"{source}: '..' is not allowed in a note path")
    base = root.resolve(strict=True)
    path = (base / Path(*rel.parts)).resolve(strict=False)
    if not path.is_relative_to(base) or path == base:
        raise NoteAccessError(f"{source}: outside the notes root {base}")
    if not path.is_file():
        raise NoteAccessError(f"{source}: no such note under {base}")
    return path


def read_note(root: Path, source: str, max_bytes: int = 5_000_000) -> str:
    """The text of a Markdown or text note under ``root`` (PDFs have no text source to show)."""
    path = resolve_note(root, source)
    if path.suffix.lower() == ".pdf":
        raise NoteAccessError(f"{source}: a PDF; open it in a PDF viewer")
    if path.stat().st_size > max_bytes:
        raise NoteAccessError(f"{source}: larger than {max_bytes // 1_000_000} MB")
    return path.read_text(encoding="utf-8", errors="replace")


def safe_upload_name(name: str) -> str:
    """A plain file name for an uploaded file: the last path component, letters, digits, ``.``,
    ``-``, ``_`` and spaces only; raises NoteAccessError for types that are not notes."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFKC", name or ""))[-1]
    stem, dot, ext = base.rpartition(".")
    ext = ext.lower()
    if not dot or "." + ext not in UPLOAD_TYPES:
        raise NoteAccessError(
            f"{name!r}: only {', '.join(UPLOAD_TYPES)} files can be added to the notes"
        )
    stem = re.sub(r"[^\w\- ]+", "_", stem).strip(" ._-")
    stem = re.sub(r"\s+", " ", stem)[:MAX_NAME]
    if not stem:
        stem = "upload"
    return f"{stem}.{ext}"


def unique_path(folder: Path, name: str) -> Path:
    """``folder / name``, or ``name (2)`` and so on when a different file already has it."""
    path = folder / name
    stem, suffix = path.stem, path.suffix
    n = 2
    while path.exists() or path.is_symlink():
        path = folder / f"{stem} ({n}){suffix}"
        n += 1
    return path
