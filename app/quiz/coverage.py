"""What the quizzes have covered: per folder and per note, how many passages exist, how many were
quizzed (asked at least once), how many items are due, and the recall rate (share of reviews
rated Hard or better); the weakest note; and the questions the chat could not answer (gaps)."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath

from sharpnotes.app.gaps import Gap, list_gaps
from sharpnotes.app.quiz.store import ReviewStore, open_store, store_path
from sharpnotes.ingest.settings import Settings

TOP_LEVEL = "(top level)"


@dataclass
class CoverageRow:
    name: str  # a folder, or a note's source path
    passages: int = 0
    quizzed: int = 0  # passages with at least one reviewed item
    items: int = 0
    due: int = 0
    reviews: int = 0
    recalled: int = 0

    @property
    def recall(self) -> float | None:
        return self.recalled / self.reviews if self.reviews else None

    def to_dict(self) -> dict:
        out = asdict(self)
        out["recall"] = None if self.recall is None else round(self.recall, 3)
        return out


@dataclass
class Coverage:
    total: CoverageRow
    folders: list[CoverageRow] = field(default_factory=list)
    notes: list[CoverageRow] = field(default_factory=list)
    weakest: CoverageRow | None = None
    gaps: list[Gap] = field(default_factory=list)
    never_reviewed: list[str] = field(default_factory=list)  # chunk ids

    def to_dict(self) -> dict:
        return {
            "total": self.total.to_dict(),
            "folders": [r.to_dict() for r in self.folders],
            "notes": [r.to_dict() for r in self.notes],
            "weakest": self.weakest.to_dict() if self.weakest else None,
            "never_reviewed": len(self.never_reviewed),
            "gaps": [{"question": g.question, "asked": g.asked} for g in self.gaps],
        }


def folder_of(source: str) -> str:
    parent = str(PurePosixPath(source).parent)
    return TOP_LEVEL if parent == "." else parent


def coverage(
    settings: Settings, store: ReviewStore | None = None, now: float | None = None
) -> Coverage:
    now = time.time() if now is None else now
    passages: dict[str, str] = {}  # chunk id -> source
    if (settings.index_dir / "catalog.sqlite").exists():
        from sharpnotes.ingest.index import open_catalog

        catalog = open_catalog(settings)
        try:
            passages = {cid: source for cid, source, _ in catalog.chunk_filter_rows()}
        finally:
            catalog.close()

    stored, stats = [], {}
    if store is not None or store_path(settings).exists():
        own = store is None
        store = store or open_store(settings)
        try:
            # coverage is of the notes: items imported from Anki have none
            stored = [s for s in store.items(("active", "stale")) if not s.item.imported]
            stats = store.review_stats()
        finally:
            if own:
                store.close()

    notes: dict[str, CoverageRow] = {}
    for source in passages.values():
        notes.setdefault(source, CoverageRow(source)).passages += 1
    reviewed_chunks: set[str] = set()
    for s in stored:
        row = notes.setdefault(s.item.citation.source, CoverageRow(s.item.citation.source))
        row.items += 1
        row.due += int(s.reps > 0 and s.due is not None and s.due <= now)
        count, recalled = stats.get(s.id, (0, 0))
        row.reviews += count
        row.recalled += recalled
        if s.reps and s.item.citation.chunk_id in passages:
            reviewed_chunks.add(s.item.citation.chunk_id)
    for cid in reviewed_chunks:
        notes[passages[cid]].quizzed += 1

    folders: dict[str, CoverageRow] = defaultdict(lambda: CoverageRow(""))
    total = CoverageRow("all notes")
    for row in notes.values():
        for agg in (folders[folder_of(row.name)], total):
            agg.passages += row.passages
            agg.quizzed += row.quizzed
            agg.items += row.items
            agg.due += row.due
            agg.reviews += row.reviews
            agg.recalled += row.recalled
    for name, row in folders.items():
        row.name = name
    reviewed = [r for r in notes.values() if r.reviews]
    weakest = min(reviewed, key=lambda r: (r.recall, -r.due, r.name)) if reviewed else None
    return Coverage(
        total=total,
        folders=sorted(folders.values(), key=lambda r: r.name),
        notes=sorted(notes.values(), key=lambda r: r.name),
        weakest=weakest,
        gaps=list_gaps(settings),
        never_reviewed=sorted(cid for cid in passages if cid not in reviewed_chunks),
    )
