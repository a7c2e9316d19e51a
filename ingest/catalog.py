"""The catalog: a SQLite file beside the vector store holding the index manifest (how it was
built), the ingested files and the text and metadata of every chunk.

It is the source of truth for which chunk ids exist: Chroma and BM25 are brought in line with it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sharpnotes.ingest.formats import StoredFormatError, migrate_sqlite, run_script
from sharpnotes.ingest.storage import private_dir, private_file, storage_problem

if TYPE_CHECKING:
    from sharpnotes.ingest.chunking import Chunk

_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    source TEXT PRIMARY KEY,
    root TEXT NOT NULL,
    sha1 TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    chunks INTEGER NOT NULL,
    indexed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    heading TEXT NOT NULL,
    page INTEGER,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    embed_text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    meta TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks(source);
CREATE INDEX IF NOT EXISTS chunks_hash ON chunks(content_hash);
"""

# PRAGMA user_version N -> the step that brings a catalog from N-1 to N. Catalogs written before
# versions were kept in user_version hold the v1 tables already (IF NOT EXISTS makes that a no-op).
_MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: lambda conn: run_script(conn, _V1),
}
SCHEMA_VERSION = max(_MIGRATIONS)


class IndexFormatError(StoredFormatError):
    """The stored index cannot be used as it is; the message says what to run."""


class IndexAccessError(IndexFormatError):
    """The index files cannot be opened or written (a read-only or full disk, no permission);
    the message names the folder and what to do."""


@dataclass(frozen=True)
class FileRecord:
    source: str
    root: str
    sha1: str
    size: int
    mtime: float
    chunks: int
    indexed_at: float


@dataclass(frozen=True)
class ChunkRow:
    chunk_id: str
    source: str
    heading: str
    page: int | None
    text: str
    content_hash: str
    meta: dict[str, Any]
    ordinal: int = -1  # its place among its file's chunks (-1: not read)


class Catalog:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            private_dir(path.parent)
            self.db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise _access_error(exc, path) from exc
        try:
            private_file(path)  # before a note's text is written (SQLite gives -wal its mode)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            migrate_sqlite(self.db, path, "catalog", _MIGRATIONS, IndexFormatError)
        except (OSError, sqlite3.Error) as exc:
            self.db.close()
            raise _access_error(exc, path) from exc
        except Exception:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.db:
            yield self.db

    # manifest -----------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def manifest(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta").fetchall())

    def set_meta(self, values: dict[str, Any], conn: sqlite3.Connection | None = None) -> None:
        (conn or self.db).executemany(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in values.items()],
        )
        if conn is None:
            self.db.commit()

    def roots(self) -> list[str]:
        return json.loads(self.get_meta("roots") or "[]")

    # files --------------------------------------------------------------------------------
    def files(self) -> dict[str, FileRecord]:
        rows = self.db.execute("SELECT * FROM files").fetchall()
        return {r[0]: FileRecord(*r) for r in rows}

    def put_file(self, conn: sqlite3.Connection, rec: FileRecord, chunks: Sequence[Chunk]) -> None:
        """Replace a file's record and its chunks (inside the caller's transaction)."""
        conn.execute("DELETE FROM chunks WHERE source=?", (rec.source,))
        conn.execute("INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?)", _astuple(rec))
        conn.executemany(
            "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?)",
            [
                (
                    c.chunk_id,
                    c.source,
                    c.heading,
                    c.page,
                    c.ordinal,
                    c.text,
                    c.embed_text,
                    c.content_hash,
                    json.dumps(c.meta, ensure_ascii=False),
                )
                for c in chunks
            ],
        )

    def touch_file(self, source: str, size: int, mtime: float, root: str) -> None:
        """Record a new size/mtime (and root: the notes folder moved) for a file whose content
        did not change."""
        with self.db:
            self.db.execute(
                "UPDATE files SET size=?, mtime=?, root=? WHERE source=?",
                (size, mtime, root, source),
            )

    def remove_file(self, conn: sqlite3.Connection, source: str) -> None:
        conn.execute("DELETE FROM chunks WHERE source=?", (source,))
        conn.execute("DELETE FROM files WHERE source=?", (source,))

    # chunks -------------------------------------------------------------------------------
    def chunk_ids(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT chunk_id FROM chunks ORDER BY rowid")]

    def _rows_in(self, sql: str, keys: Iterable[str]) -> Iterator[tuple]:
        """Rows of ``sql`` (with one ``{marks}`` placeholder list) for keys, 500 at a time
        (SQLite caps the number of bound parameters)."""
        keys = list(keys)
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            yield from self.db.execute(sql.format(marks=",".join("?" * len(part))), part)

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        sql = "SELECT chunk_id FROM chunks WHERE chunk_id IN ({marks})"
        return {r[0] for r in self._rows_in(sql, ids)}

    def chunk_ids_of(self, source: str) -> set[str]:
        rows = self.db.execute("SELECT chunk_id FROM chunks WHERE source=?", (source,))
        return {r[0] for r in rows}

    def ids_by_hash(self, hashes: Iterable[str]) -> dict[str, str]:
        """content hash -> an existing chunk id with that content (for reusing embeddings)."""
        sql = "SELECT content_hash, chunk_id FROM chunks WHERE content_hash IN ({marks})"
        return dict(self._rows_in(sql, hashes))

    def iter_embed_texts(self) -> Iterator[tuple[str, str]]:
        yield from self.db.execute("SELECT chunk_id, embed_text FROM chunks ORDER BY rowid")

    def embed_texts(self, ids: Sequence[str]) -> Iterator[tuple[str, str]]:
        """(chunk id, the text its vectors were made from) for the ids the catalog has."""
        sql = "SELECT chunk_id, embed_text FROM chunks WHERE chunk_id IN ({marks})"
        yield from self._rows_in(sql, ids)

    def get_chunks(self, ids: Sequence[str]) -> dict[str, ChunkRow]:
        sql = (
            "SELECT chunk_id, source, heading, page, text, content_hash, meta, ordinal FROM chunks "
            "WHERE chunk_id IN ({marks})"
        )
        return {
            r[0]: ChunkRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7])
            for r in self._rows_in(sql, ids)
        }

    def chunk_filter_rows(self) -> Iterator[tuple[str, str, str]]:
        """(chunk_id, source, meta json) for building filter masks."""
        yield from self.db.execute("SELECT chunk_id, source, meta FROM chunks ORDER BY rowid")

    def counts(self) -> tuple[int, int]:
        files = self.db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        chunks = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return files, chunks


def _access_error(exc: BaseException, path: Path) -> IndexAccessError:
    return IndexAccessError(
        storage_problem(exc, path.parent)
        or f"cannot open the catalog {path} ({exc}); run: sharpnotes ingest --rebuild PATH-TO-NOTES"
    )


def _astuple(rec: FileRecord) -> tuple[Any, ...]:
    return (rec.source, rec.root, rec.sha1, rec.size, rec.mtime, rec.chunks, rec.indexed_at)
