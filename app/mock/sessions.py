"""Mock sessions kept with their time (``HOME/mock.sqlite``), progress by week, and the missed
points of a session made into review cards.

One row per finished mock: when it started, how long it took, its kind, case and score, and the
whole report as JSON. WAL journal, one transaction per write; the schema version is
``PRAGMA user_version`` (``ingest.formats.migrate_sqlite``: older files migrated, newer refused).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from sharpnotes.app.mock.grade import MockReport, StepResult
from sharpnotes.app.mock.plan import Point, item_label
from sharpnotes.app.quiz.items import Citation, QuizItem
from sharpnotes.ingest.formats import migrate_sqlite, run_script
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.storage import private_db
from sharpnotes.ingest.text import HEADING_SEP

DB_NAME = "mock.sqlite"
UNTIMED = 0.0  # the duration kept for a mock answered from a file that gave no time


def clock(seconds: float) -> str:
    """A time as mm:ss."""
    seconds = max(0, int(seconds))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def took(seconds: float) -> str:
    """A mock's duration as mm:ss; "untimed" for one answered from a file without its time."""
    return "untimed" if seconds == UNTIMED else clock(seconds)


def took_of(seconds: float, minutes: float) -> str:
    """A mock's duration against its length ("12:03 of 45 min"); "untimed" alone when no time
    was given."""
    return took(seconds) if seconds == UNTIMED else f"{clock(seconds)} of {minutes:g} min"


_V1 = """
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    source TEXT,
    started_at REAL NOT NULL,
    duration_s REAL NOT NULL,
    minutes REAL NOT NULL,
    score REAL NOT NULL,
    missed INTEGER NOT NULL,
    report TEXT NOT NULL
);
CREATE INDEX sessions_started ON sessions(started_at)
"""
_MIGRATIONS = {1: lambda conn: run_script(conn, _V1)}
_LEAD = re.compile(r"^\W*\*\*(.+?)\*\*")  # "- **Range**: ..." -> "Range"


@dataclass
class SessionRow:
    id: str
    kind: str
    title: str
    source: str | None
    started_at: float
    duration_s: float
    minutes: float
    score: float
    missed: int

    @property
    def started(self) -> str:
        return datetime.fromtimestamp(self.started_at, UTC).strftime("%Y-%m-%d %H:%M")

    def to_dict(self) -> dict:
        return asdict(self) | {"started": self.started}


def db_path(settings: Settings) -> Path:
    return settings.paths.home / DB_NAME


@contextmanager
def _connect(settings: Settings) -> Iterator[sqlite3.Connection]:
    path = db_path(settings)
    private_db(path)
    conn = sqlite3.connect(path, timeout=10, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        migrate_sqlite(conn, path, "mock sessions", _MIGRATIONS)
        yield conn
    finally:
        conn.close()


def save(settings: Settings, report: MockReport) -> None:
    with _connect(settings) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT OR REPLACE INTO sessions VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                report.id, report.kind, report.title, report.source, report.started_at,
                report.duration_s, report.minutes, report.score, len(report.missed),
                json.dumps(report.to_dict(), ensure_ascii=False),
            ),
        )  # fmt: skip
        conn.execute("COMMIT")


def history(settings: Settings, limit: int | None = None) -> list[SessionRow]:
    """Past sessions, newest first (none when no mock was ever saved)."""
    if not db_path(settings).exists():
        return []
    with _connect(settings) as conn:
        rows = conn.execute(
            "SELECT id, kind, title, source, started_at, duration_s, minutes, score, missed "
            "FROM sessions ORDER BY started_at DESC LIMIT ?",
            (-1 if limit is None else limit,),
        ).fetchall()
    return [SessionRow(*row) for row in rows]


def load(settings: Settings, session_id: str) -> MockReport | None:
    if not db_path(settings).exists():
        return None
    with _connect(settings) as conn:
        row = conn.execute("SELECT report FROM sessions WHERE id=?", (session_id,)).fetchone()
    return MockReport.from_dict(json.loads(row[0])) if row else None


def weekly(rows: list[SessionRow]) -> list[dict]:
    """Per ISO week (oldest first): mocks done, their mean score, minutes spent."""
    weeks: dict[str, list[SessionRow]] = defaultdict(list)
    for row in rows:
        year, week, _ = datetime.fromtimestamp(row.started_at, UTC).isocalendar()
        weeks[f"{year}-W{week:02d}"].append(row)
    return [
        {
            "week": week,
            "mocks": len(mine),
            "mean_score": round(sum(r.score for r in mine) / len(mine), 3),
            "minutes": round(sum(r.duration_s for r in mine) / 60, 1),
        }
        for week, mine in sorted(weeks.items())
    ]


def card_for(report: MockReport, step: StepResult, point: Point) -> QuizItem:
    """A recall card for a missed point: asked from the case and step, answered by the point,
    cited to its passage. A nested bullet is cued with the items it sits under ("GBDT › cons…"):
    its first words alone do not say what it is about."""
    from sharpnotes.app.extractive import SHOWN_PARENT_CHARS, outlined

    passage = point.passage
    # a bold lead or a plain label ("- latency: < 50 ms on Orin") asks; its value is the answer
    bold = _LEAD.match(point.text)
    cue = bold.group(1) if bold else item_label(point.text)
    cue = cue or " ".join(point.text.lstrip("-*0123456789. ").split()[:4])
    # each parent the report would show, by its label's first words
    shown = [" ".join(p.split(":")[0].split()[:6]) for p in point.parents
             if len(p) <= SHOWN_PARENT_CHARS]  # fmt: skip
    cue = outlined(cue, shown)
    where = passage.heading.split(HEADING_SEP)[-1]
    if report.kind == "design":
        # "Model (3. Model)" says the step twice; a section of another name says where it is
        same = re.sub(r"[\W\d_]+", "", where).lower() == re.sub(r"[\W\d_]+", "", step.title).lower()
        at = step.title if same else f"{step.title} ({where})"
        labelled = bool(bold or item_label(point.text))
        question = (
            f"{report.title} · {at}: what do your notes say on {cue}?"
            if labelled  # "Main: ..." asked as "Main…?" could not be answered cold
            else f"{report.title} · {at}: how does your point “{cue}…” go on?"
        )
    elif bold or item_label(point.text):  # the aspect a label names, not its value
        question = f"{step.question} ({cue}…)"
    else:  # a rapid question's point is its answer: its first words would give it away
        question = (
            step.question
            if where.lower() in step.question.lower()
            else (f"{step.question} ({where})")
        )
    return QuizItem(
        type="recall",
        question=question,
        answer=point.text,
        evidence=point.text,
        passage=passage.text,
        citation=Citation(passage.chunk_id, passage.source, passage.heading, passage.page),
        key_points=[point.text],
        generator="mock",
    )


def make_cards(settings: Settings, report: MockReport) -> list[str]:
    """Add the report's missed points to the review store, of the steps that were answered (a
    step left blank was not asked of you: its points are the whole case, not what you missed);
    returns the ids that were new."""
    from sharpnotes.app.quiz.store import open_store

    items = [card_for(report, step, point) for step, point in report.missed if step.answer]
    with open_store(settings) as store:
        # a point that a card of the same passage answers already (a rapid round asks the
        # learner's own cards) is that card: a copy came back as new the day after
        held = [s.item for s in store.items(("active", "stale"))]
        return store.add_items([i for i in items if not any(_holds(h, i) for h in held)])


def _holds(card: QuizItem, item: QuizItem) -> bool:
    """``card`` asks from the passage of ``item`` and its answer says the point ``item`` asks."""
    same = card.citation.chunk_id == item.citation.chunk_id
    return same and " ".join(item.answer.split()) in " ".join(card.answer.split())
