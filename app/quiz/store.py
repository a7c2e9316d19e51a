"""The review database: quiz items, their FSRS card state and every review, in SQLite at
``HOME/review.sqlite``.

WAL journal, ``synchronous=FULL`` and one ``BEGIN IMMEDIATE`` transaction per write, so a kill
at any moment loses at most the answer that was not yet recorded. The schema version is
``PRAGMA user_version``; older files are migrated step by step on open, newer ones refused.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sharpnotes.app.quiz.items import QuizItem
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.storage import private_db

SCHEMA_VERSION = 3
DB_NAME = "review.sqlite"

Status = Literal["active", "stale", "retired"]
SHOWN: tuple[Status, ...] = ("active", "stale")  # retired items are kept but never asked

_V1 = """
CREATE TABLE items (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    chunk_id TEXT NOT NULL,
    source TEXT NOT NULL,
    heading TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    record TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    status_note TEXT NOT NULL DEFAULT '',
    replaced_by TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    card TEXT,
    due REAL,
    reps INTEGER NOT NULL DEFAULT 0,
    last_review REAL
);
CREATE INDEX items_chunk ON items(chunk_id);
CREATE INDEX items_source ON items(source);
CREATE INDEX items_due ON items(status, reps, due);
CREATE TABLE reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id TEXT NOT NULL REFERENCES items(id),
    reviewed_at REAL NOT NULL,
    rating INTEGER NOT NULL,
    correct INTEGER,
    score REAL,
    response TEXT NOT NULL DEFAULT '',
    log TEXT NOT NULL
);
CREATE INDEX reviews_item ON reviews(item_id);
"""

# suspended: never asked until unsuspended; buried_until: hidden from the queue until then (the
# next local midnight). Both are the learner's choice, apart from the status staleness sets.
_V2 = """
ALTER TABLE items ADD COLUMN suspended INTEGER NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN buried_until REAL
"""

# edited_at: when the learner last rewrote the card's text (the record then also holds the
# text it was made with, under "original"); such an item is never overwritten by a regenerated one
_V3 = "ALTER TABLE items ADD COLUMN edited_at REAL"

# user_version N -> the statements that bring a file from N-1 to N
_MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: lambda conn: _run_script(conn, _V1),
    2: lambda conn: _run_script(conn, _V2),
    3: lambda conn: _run_script(conn, _V3),
}
# what the review queue may ask at time ? (not suspended, not buried until later)
_ASKABLE = "status IN ('active','stale') AND suspended = 0 AND COALESCE(buried_until, 0) <= ?"


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    # executescript() would COMMIT first; run statement by statement inside our transaction
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


class ReviewStoreError(RuntimeError):
    """The review database cannot be used as it is; the message says what to do."""


@dataclass
class StoredItem:
    item: QuizItem
    id: str
    status: Status
    status_note: str
    replaced_by: str | None
    created_at: float
    card: str | None  # fsrs Card JSON, None until the first review
    due: float | None
    reps: int
    last_review: float | None
    suspended: bool = False
    buried_until: float | None = None
    edited_at: float | None = None  # the learner rewrote the question or answer
    original: dict | None = None  # {"question", "answer"} as made, when edited

    def buried(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return self.buried_until is not None and self.buried_until > now

    @property
    def is_new(self) -> bool:
        return self.reps == 0


@dataclass
class ReviewRow:
    id: int
    item_id: str
    reviewed_at: float
    rating: int
    correct: bool | None
    score: float | None
    response: str
    log: str


_ITEM_COLS = (
    "id, record, status, status_note, replaced_by, created_at, card, due, reps, last_review, "
    "suspended, buried_until, edited_at"
)


def _stored(row: tuple) -> StoredItem:
    record = json.loads(row[1])
    item = QuizItem.from_record(record)
    if item.id != row[0]:  # edited text: the item keeps the id it was stored under
        item = dataclasses.replace(item, stored_id=row[0])
    status, note, replaced_by, created_at, card, due, reps, last_review = row[2:10]
    return StoredItem(
        item, row[0], status, note, replaced_by, created_at, card, due, reps, last_review,
        suspended=bool(row[10]), buried_until=row[11], edited_at=row[12],
        original=record.get("original"),
    )  # fmt: skip


def store_path(settings: Settings) -> Path:
    return settings.paths.home / DB_NAME


def open_store(settings: Settings) -> ReviewStore:
    return ReviewStore(store_path(settings))


class ReviewStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        private_db(path)  # your answers and history: yours alone
        # autocommit mode: every transaction is an explicit BEGIN IMMEDIATE ... COMMIT
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except Exception:
            self.db.close()
            raise

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ReviewStoreError(
                f"{self.path} was written by a newer sharpnotes (review schema {version}, this "
                f"one reads up to {SCHEMA_VERSION}); upgrade sharpnotes to use it."
            )
        for step in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction() as conn:
                _MIGRATIONS[step](conn)
                conn.execute(f"PRAGMA user_version={step}")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ReviewStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # items --------------------------------------------------------------------------------
    def add_items(self, items: Iterable[QuizItem], now: float | None = None) -> list[str]:
        """Save new items; an item already stored (same id) keeps its state and history.
        Returns the ids that were new."""
        now = time.time() if now is None else now
        added = []
        with self.transaction() as conn:
            for item in items:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO items (id, type, chunk_id, source, heading, "
                    "content_hash, record, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        item.id,
                        item.type,
                        item.citation.chunk_id,
                        item.citation.source,
                        item.citation.heading,
                        item.content_hash,
                        json.dumps(item.to_record(), ensure_ascii=False),
                        now,
                        now,
                    ),
                )
                if cur.rowcount:
                    added.append(item.id)
        return added

    def get(self, item_id: str) -> StoredItem | None:
        row = self.db.execute(f"SELECT {_ITEM_COLS} FROM items WHERE id=?", (item_id,)).fetchone()
        return _stored(row) if row else None

    def ids_starting(self, prefix: str) -> list[str]:
        """The ids of the items whose id starts with ``prefix``."""
        rows = self.db.execute(
            "SELECT id FROM items WHERE substr(id, 1, ?) = ? ORDER BY id", (len(prefix), prefix)
        )
        return [r[0] for r in rows]

    def items(
        self, statuses: Sequence[Status] = ("active", "stale", "retired"), ids: Sequence[str] = ()
    ) -> list[StoredItem]:
        marks = ",".join("?" * len(statuses))
        rows = self.db.execute(
            f"SELECT {_ITEM_COLS} FROM items WHERE status IN ({marks}) ORDER BY created_at, rowid",
            tuple(statuses),
        ).fetchall()
        out = [_stored(r) for r in rows]
        if ids:
            wanted = set(ids)
            out = [s for s in out if s.id in wanted]
        return out

    def due_items(self, now: float | None = None, limit: int | None = None) -> list[StoredItem]:
        """Reviewed items whose next review is due, most overdue first."""
        now = time.time() if now is None else now
        rows = self.db.execute(
            f"SELECT {_ITEM_COLS} FROM items WHERE {_ASKABLE} AND reps > 0 "
            "AND due <= ? ORDER BY due, id LIMIT ?",
            (now, now, -1 if limit is None else limit),
        ).fetchall()
        return [_stored(r) for r in rows]

    def new_items(self, limit: int | None = None, now: float | None = None) -> list[StoredItem]:
        """Items never reviewed (and neither suspended nor buried), oldest first."""
        now = time.time() if now is None else now
        rows = self.db.execute(
            f"SELECT {_ITEM_COLS} FROM items WHERE {_ASKABLE} AND reps = 0 "
            "ORDER BY created_at, rowid LIMIT ?",
            (now, -1 if limit is None else limit),
        ).fetchall()
        return [_stored(r) for r in rows]

    def reviewed_since(self, start: float) -> list[StoredItem]:
        """The items reviewed at or after ``start``, in the order of their first review since."""
        rows = self.db.execute(
            f"SELECT {_ITEM_COLS} FROM items JOIN (SELECT item_id, MIN(id) AS first FROM reviews "
            "WHERE reviewed_at >= ? GROUP BY item_id) ON item_id = id ORDER BY first",
            (start,),
        ).fetchall()
        return [_stored(r) for r in rows]

    def counts(self, now: float | None = None) -> dict[str, int]:
        """due, new (both without suspended and buried items), stale, retired, suspended,
        buried and total item counts."""
        now = time.time() if now is None else now
        row = self.db.execute(
            "SELECT "
            f"SUM({_ASKABLE} AND reps > 0 AND due <= ?), "
            f"SUM({_ASKABLE} AND reps = 0), "
            "SUM(status = 'stale'), SUM(status = 'retired'), "
            "SUM(status != 'retired' AND suspended = 1), "
            "SUM(status != 'retired' AND suspended = 0 AND COALESCE(buried_until, 0) > ?), "
            "COUNT(*) FROM items",
            (now, now, now, now),
        ).fetchone()
        names = ("due", "new", "stale", "retired", "suspended", "buried", "total")
        return dict(zip(names, (v or 0 for v in row), strict=True))

    def suspended_items(self) -> list[StoredItem]:
        """Suspended items that are not retired, in the order they were made."""
        rows = self.db.execute(
            f"SELECT {_ITEM_COLS} FROM items WHERE suspended = 1 AND status != 'retired' "
            "ORDER BY created_at, rowid"
        ).fetchall()
        return [_stored(r) for r in rows]

    def buried_items(self, now: float | None = None) -> list[StoredItem]:
        """Items buried until later than ``now`` (not suspended, not retired)."""
        now = time.time() if now is None else now
        rows = self.db.execute(
            f"SELECT {_ITEM_COLS} FROM items WHERE suspended = 0 AND status != 'retired' "
            "AND COALESCE(buried_until, 0) > ? ORDER BY created_at, rowid",
            (now,),
        ).fetchall()
        return [_stored(r) for r in rows]

    def set_suspended(self, ids: Sequence[str], suspended: bool = True) -> list[str]:
        """Suspend (or unsuspend) these items; returns the ids that exist. Unsuspending also
        unburies."""
        return self._update_each(
            ids,
            "suspended=?, buried_until=CASE WHEN ? THEN buried_until END",
            (int(suspended), int(suspended)),
        )

    def bury(self, ids: Sequence[str], until: float) -> list[str]:
        """Hide these items from the review queue until ``until`` (a timestamp); ``until`` in
        the past unburies. Returns the ids that exist."""
        return self._update_each(ids, "buried_until=?", (until,))

    def _update_each(self, ids: Sequence[str], assignments: str, values: tuple) -> list[str]:
        now = time.time()
        done = []
        with self.transaction() as conn:
            for item_id in ids:
                cur = conn.execute(
                    f"UPDATE items SET {assignments}, updated_at=? WHERE id=?",
                    (*values, now, item_id),
                )
                if cur.rowcount:
                    done.append(item_id)
        return done

    def set_status(self, changes: Iterable[tuple[str, Status, str]]) -> None:
        """(item id, status, note) for several items, in one transaction."""
        now = time.time()
        with self.transaction() as conn:
            conn.executemany(
                "UPDATE items SET status=?, status_note=?, updated_at=? WHERE id=?",
                [(status, note, now, item_id) for item_id, status, note in changes],
            )

    def update_record(self, item_id: str, record: dict) -> None:
        """Store the learner's edit of an item's text (``record`` as ``QuizItem.to_record``
        gives it); the text it was first made with is kept under "original"."""
        now = time.time()
        with self.transaction() as conn:
            row = conn.execute("SELECT record FROM items WHERE id=?", (item_id,)).fetchone()
            if row is None:
                raise ReviewStoreError(f"no quiz item {item_id} in {self.path}")
            before = json.loads(row[0])
            original = before.get("original") or {
                "question": before["question"],
                "answer": before["answer"],
            }
            record = {**record, "id": item_id, "original": original}
            conn.execute(
                "UPDATE items SET record=?, edited_at=?, updated_at=? WHERE id=?",
                (json.dumps(record, ensure_ascii=False), now, now, item_id),
            )

    def move_item(self, item_id: str, item: QuizItem) -> None:
        """Tie ``item_id`` to the passage ``item`` cites now (its text, history and any edit
        stay) and make it active again."""
        now = time.time()
        with self.transaction() as conn:
            row = conn.execute("SELECT record FROM items WHERE id=?", (item_id,)).fetchone()
            if row is None:
                raise ReviewStoreError(f"no quiz item {item_id} in {self.path}")
            original = json.loads(row[0]).get("original")
            record = item.to_record() | {"id": item_id}
            if original:
                record["original"] = original
            cit = item.citation
            conn.execute(
                "UPDATE items SET record=?, chunk_id=?, source=?, heading=?, content_hash=?, "
                "status='active', status_note='', updated_at=? WHERE id=?",
                (
                    json.dumps(record, ensure_ascii=False),
                    cit.chunk_id,
                    cit.source,
                    cit.heading,
                    item.content_hash,
                    now,
                    item_id,
                ),
            )

    def replace(self, old_id: str, new: QuizItem) -> None:
        """Retire ``old_id`` in favour of a regenerated item; the old one keeps its history."""
        now = time.time()
        self.add_items([new], now)
        with self.transaction() as conn:
            conn.execute(
                "UPDATE items SET status='retired', status_note=?, replaced_by=?, updated_at=? "
                "WHERE id=?",
                (f"regenerated as {new.id}", new.id, now, old_id),
            )

    # reviews ------------------------------------------------------------------------------
    def record_review(
        self,
        item_id: str,
        *,
        rating: int,
        card: str,
        due: float,
        reviewed_at: float,
        log: str,
        response: str = "",
        correct: bool | None = None,
        score: float | None = None,
    ) -> int:
        """Append a review and move the item's card on, atomically. Returns the review id."""
        with self.transaction() as conn:
            updated = conn.execute(
                "UPDATE items SET card=?, due=?, reps=reps+1, last_review=?, updated_at=? "
                "WHERE id=?",
                (card, due, reviewed_at, reviewed_at, item_id),
            )
            if not updated.rowcount:
                raise ReviewStoreError(f"no quiz item {item_id} in {self.path}")
            cur = conn.execute(
                "INSERT INTO reviews (item_id, reviewed_at, rating, correct, score, response, "
                "log) VALUES (?,?,?,?,?,?,?)",
                (item_id, reviewed_at, rating, correct, score, response, log),
            )
            return int(cur.lastrowid or 0)

    def undo_review(
        self,
        review_id: int,
        *,
        card: str | None,
        due: float | None,
        last_review: float | None,
    ) -> None:
        """Take back a review: delete its row and put the item's card back to the state before
        it (computed by the caller), atomically."""
        with self.transaction() as conn:
            row = conn.execute("SELECT item_id FROM reviews WHERE id=?", (review_id,)).fetchone()
            if row is None:
                raise ReviewStoreError(f"no review {review_id} in {self.path}")
            conn.execute("DELETE FROM reviews WHERE id=?", (review_id,))
            conn.execute(
                "UPDATE items SET card=?, due=?, reps=MAX(reps-1, 0), last_review=?, "
                "updated_at=? WHERE id=?",
                (card, due, last_review, time.time(), row[0]),
            )

    def last_review(self) -> ReviewRow | None:
        rows = self.db.execute("SELECT MAX(id) FROM reviews").fetchone()
        if not rows or rows[0] is None:
            return None
        return next((r for r in self.reviews_by_id([rows[0]])), None)

    def reviews_by_id(self, ids: Sequence[int]) -> list[ReviewRow]:
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            "SELECT id, item_id, reviewed_at, rating, correct, score, response, log FROM reviews "
            f"WHERE id IN ({marks}) ORDER BY id",
            tuple(ids),
        ).fetchall()
        return [
            ReviewRow(r[0], r[1], r[2], r[3], None if r[4] is None else bool(r[4]), *r[5:])
            for r in rows
        ]

    def reviews(self, item_id: str | None = None) -> list[ReviewRow]:
        sql = "SELECT id, item_id, reviewed_at, rating, correct, score, response, log FROM reviews"
        args: tuple = ()
        if item_id is not None:
            sql += " WHERE item_id=?"
            args = (item_id,)
        rows = self.db.execute(sql + " ORDER BY id", args).fetchall()
        return [
            ReviewRow(r[0], r[1], r[2], r[3], None if r[4] is None else bool(r[4]), *r[5:])
            for r in rows
        ]

    def done_since(self, start: float) -> tuple[int, int]:
        """(new, reviews) since ``start``: first reviews of an item, and the other reviews."""
        row = self.db.execute(
            "SELECT SUM(first), SUM(NOT first) FROM (SELECT r.id = (SELECT MIN(x.id) FROM "
            "reviews x WHERE x.item_id = r.item_id) AS first FROM reviews r "
            "WHERE r.reviewed_at >= ?)",
            (start,),
        ).fetchone()
        return int(row[0] or 0), int(row[1] or 0)

    def last_ratings(self) -> dict[str, int]:
        """item id -> the rating of its latest review."""
        rows = self.db.execute(
            "SELECT r.item_id, r.rating FROM reviews r WHERE r.id = "
            "(SELECT MAX(x.id) FROM reviews x WHERE x.item_id = r.item_id)"
        )
        return {r[0]: r[1] for r in rows}

    def review_stats(self) -> dict[str, tuple[int, int]]:
        """item id -> (reviews, recalled), where recalled means rated Hard or better."""
        rows = self.db.execute(
            "SELECT item_id, COUNT(*), SUM(rating > 1) FROM reviews GROUP BY item_id"
        )
        return {r[0]: (r[1], r[2] or 0) for r in rows}
