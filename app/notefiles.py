"""Safe access to note files: reading a note by its indexed source path, and naming uploads.

Both take names that come from outside (a catalog row, a browser upload) and must never reach
a file outside the notes root: no ``..``, no absolute paths, no symlinks leading out."""

from __future__ import annotations

import errno
import os
import re
import secrets
import unicodedata
from pathlib import Path, PurePosixPath

from sharpnotes.ingest.atomic import fsync_path

UPLOAD_TYPES = (".md", ".txt", ".pdf")
MAX_NAME = 120  # characters of an upload's name, before the extension
MAX_NAME_BYTES = 200  # and UTF-8 bytes: file systems allow 255 per name, "name (2).md" needs some
# names Windows gives to devices, whatever the extension (a notes folder may be synced there)
RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{dev}{n}" for dev in ("COM", "LPT") for n in "123456789¹²³"
}


class NoteAccessError(ValueError):
    """The requested path is not a readable note inside the notes root."""


def resolve_note(root: Path, source: str) -> Path:
    """The file ``source`` (relative, ``/``-separated) under ``root``, after checking that it
    is really inside ``root`` once every symlink is resolved."""
    if not source:
        raise NoteAccessError("empty note path")
    if "\x00" in source:
        raise NoteAccessError(f"{source!r}: a NUL character is not allowed in a note path")
    rel = PurePosixPath(source.replace("\\", "/"))
    if rel.is_absolute() or re.match(r"^[A-Za-z]:", source):
        raise NoteAccessError(f"{source}: absolute paths are not notes")
    if any(part == ".." for part in rel.parts):
        raise NoteAccessError(f"{source}: '..' is not allowed in a note path")
    try:
        base = root.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise NoteAccessError(f"{source}: the notes root {root} is gone; ingest it again") from exc
    try:
        path = (base / Path(*rel.parts)).resolve(strict=False)
        if not path.is_relative_to(base) or path == base:
            raise NoteAccessError(f"{source}: outside the notes root {base}")
        if not path.is_file():
            raise NoteAccessError(f"{source}: no such note under {base}")
    except OSError as exc:  # a name too long, a folder that cannot be searched
        raise NoteAccessError(f"{source}: cannot open ({exc.strerror or exc})") from exc
    except RuntimeError as exc:  # pathlib's resolve() reports a symlink loop this way
        raise NoteAccessError(f"{source}: cannot open (symlink loop)") from exc
    return path


def read_note(root: Path, source: str, max_bytes: int = 5_000_000) -> str:
    """The text of a Markdown or text note under ``root`` (PDFs have no text source to show)."""
    path = resolve_note(root, source)
    if path.suffix.lower() == ".pdf":
        raise NoteAccessError(f"{source}: a PDF; open it in a PDF viewer")
    try:
        if path.stat().st_size > max_bytes:
            raise NoteAccessError(f"{source}: larger than {max_bytes // 1_000_000} MB")
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise NoteAccessError(f"{source}: cannot read ({exc.strerror or exc})") from exc


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
    while len(stem.encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    stem = stem.strip(" ._-")
    if not stem:
        stem = "upload"
    if stem.upper() in RESERVED:
        stem += "_"
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


def write_new_file(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` as a new file ``name`` (or ``name (2)``...) in ``folder``: whole into a
    hidden temporary file first, synced, then linked under its name, which fails rather than
    replace a file that appeared meanwhile. A reader (an ingest, a sync client) never sees half a
    file, and no file is ever overwritten."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.{secrets.token_hex(4)}.part"  # hidden: ingest skips it
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        while True:
            path = unique_path(folder, name)
            try:
                os.link(tmp, path)
                break
            except FileExistsError:  # taken since unique_path looked: try the next name
                continue
            except OSError as exc:  # a file system without hard links (FAT, some mounts)
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise
                os.replace(tmp, path)
                break
    finally:
        tmp.unlink(missing_ok=True)
    fsync_path(folder)
    return path
