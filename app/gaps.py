"""Questions the notes could not answer ("gaps"), kept for the quiz's coverage view; and the
syllabus topics whose linked passages made no question, so that ``today`` does not send the
learner to an empty quiz again until those passages change.

Stored in SQLite at ``HOME/state.sqlite`` (WAL, one transaction per write); asking the same
question again bumps its count instead of adding a row.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sharpnotes.ingest.formats import migrate_sqlite
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.storage import private_db

if TYPE_CHECKING:
    from sharpnotes.app.topics import Link

_V1 = """
CREATE TABLE IF NOT EXISTS gaps (
    question TEXT PRIMARY KEY,
    asked INTEGER NOT NULL DEFAULT 1,
    first_at REAL NOT NULL,
    last_at REAL NOT NULL
)
"""
# a topic whose quiz made nothing, and the passages it was made from (chunk ids, sorted)
_V2 = """
CREATE TABLE IF NOT EXISTS barren_topics (
    topic TEXT PRIMARY KEY,
    passages TEXT NOT NULL,
    at REAL NOT NULL
)
"""
# PRAGMA user_version N -> the step from N-1 to N (files made before versions were kept already
# hold the v1 table, which IF NOT EXISTS leaves alone)
_MIGRATIONS = {1: lambda conn: conn.execute(_V1), 2: lambda conn: conn.execute(_V2)}


@dataclass
class Gap:
    question: str
    asked: int
    first_at: float
    last_at: float


def _connect(settings: Settings) -> sqlite3.Connection:
    path = settings.paths.home / "state.sqlite"
    private_db(path)
    conn = sqlite3.connect(path, timeout=10)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        migrate_sqlite(conn, path, "app state", _MIGRATIONS)
    except Exception:
        conn.close()
        raise
    return conn


def _key(question: str) -> str:
    return " ".join(question.split())


def record_gap(settings: Settings, question: str) -> None:
    """Remember that ``question`` was refused."""
    now = time.time()
    with closing(_connect(settings)) as conn, conn:
        conn.execute(
            "INSERT INTO gaps (question, asked, first_at, last_at) VALUES (?, 1, ?, ?) "
            "ON CONFLICT(question) DO UPDATE SET asked = asked + 1, last_at = excluded.last_at",
            (_key(question), now, now),
        )


def list_gaps(settings: Settings) -> list[Gap]:
    """Refused questions, most recently asked first."""
    if not (settings.paths.home / "state.sqlite").exists():
        return []
    with closing(_connect(settings)) as conn:
        rows = conn.execute(
            "SELECT question, asked, first_at, last_at FROM gaps ORDER BY last_at DESC"
        ).fetchall()
    return [Gap(*row) for row in rows]


def _passages(chunk_ids: list[str]) -> str:
    return ",".join(sorted(chunk_ids))


def record_barren(settings: Settings, topic: str, chunk_ids: list[str]) -> None:
    """Remember that a quiz on ``topic`` made no question from these passages; a quiz that made
    some forgets it."""
    with closing(_connect(settings)) as conn, conn:
        conn.execute(
            "INSERT INTO barren_topics (topic, passages, at) VALUES (?, ?, ?) "
            "ON CONFLICT(topic) DO UPDATE SET passages = excluded.passages, at = excluded.at",
            (topic, _passages(chunk_ids), time.time()),
        )


def forget_barren(settings: Settings, topic: str) -> None:
    if (settings.paths.home / "state.sqlite").exists():
        with closing(_connect(settings)) as conn, conn:
            conn.execute("DELETE FROM barren_topics WHERE topic = ?", (topic,))


def barren_topics(settings: Settings, links: Mapping[str, Sequence[Link]]) -> set[str]:
    """The topics of ``links`` (topic id -> linked passages) whose quiz made no question from
    the passages linked now: the same passages would make none again."""
    if not (settings.paths.home / "state.sqlite").exists():
        return set()
    with closing(_connect(settings)) as conn:
        rows = conn.execute("SELECT topic, passages FROM barren_topics").fetchall()
    now = {t: _passages([link.chunk_id for link in links[t]]) for t, _ in rows if t in links}
    return {t for t, held in rows if now.get(t) == held}
