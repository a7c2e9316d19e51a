"""Questions the notes could not answer ("gaps"), kept for the quiz's coverage view.

Stored in SQLite at ``HOME/state.sqlite`` (WAL, one transaction per write); asking the same
question again bumps its count instead of adding a row.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass

from sharpnotes.ingest.formats import migrate_sqlite
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.storage import private_db

_V1 = """
CREATE TABLE IF NOT EXISTS gaps (
    question TEXT PRIMARY KEY,
    asked INTEGER NOT NULL DEFAULT 1,
    first_at REAL NOT NULL,
    last_at REAL NOT NULL
)
"""
# PRAGMA user_version N -> the step from N-1 to N (files made before versions were kept already
# hold the v1 table, which IF NOT EXISTS leaves alone)
_MIGRATIONS = {1: lambda conn: conn.execute(_V1)}


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
