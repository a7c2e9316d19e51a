"""Schema versions of everything sharpnotes stores (the catalog and app-state SQLite files, the
BM25 pointer, saved conversations): older data is migrated step by step on open, data written by
a newer sharpnotes is refused with a message saying what to do."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path


class StoredFormatError(RuntimeError):
    """Stored data cannot be used by this sharpnotes; the message says what to do."""


def newer_message(path: Path, kind: str, found: int, supported: int) -> str:
    return (
        f"{path} was written by a newer sharpnotes ({kind} schema {found} > {supported}); "
        "upgrade sharpnotes or point SHARPNOTES_HOME elsewhere"
    )


def check_version(path: Path, kind: str, found: int, supported: int) -> None:
    if found > supported:
        raise StoredFormatError(newer_message(path, kind, found, supported))


def migrate_sqlite(
    conn: sqlite3.Connection,
    path: Path,
    kind: str,
    migrations: Mapping[int, Callable[[sqlite3.Connection], None]],
    error: type[StoredFormatError] = StoredFormatError,
) -> None:
    """Bring a SQLite file to the newest schema: ``PRAGMA user_version`` N is what
    ``migrations[1..N]`` made; each step runs in its own transaction with the version bump."""
    supported = max(migrations)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > supported:
        raise error(newer_message(path, kind, version, supported))
    for step in range(version + 1, supported + 1):
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            # another process may have migrated between our read and the write lock
            if conn.execute("PRAGMA user_version").fetchone()[0] >= step:
                continue
            migrations[step](conn)
            conn.execute(f"PRAGMA user_version={step}")


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Statements of ``script`` inside the caller's transaction (``executescript`` would commit)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)
