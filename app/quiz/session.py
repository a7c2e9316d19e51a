"""What a quiz or review session asks, shared by the CLI and the app: which passages a new quiz
draws from, and the review queue (due items first, then new ones)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sharpnotes.app.quiz.store import ReviewStore, StoredItem
from sharpnotes.app.retrieval import Filters
from sharpnotes.ingest.settings import Settings

if TYPE_CHECKING:
    from sharpnotes.app.quiz.generate import QuizBatch
    from sharpnotes.app.retrieval import Searcher

Mode = Literal["unquizzed", "new", "weakest"]


class NothingToQuiz(ValueError):
    """The quiz asked for cannot be made yet; the message says what to do."""


@dataclass
class Quiz:
    batch: QuizBatch
    stored: list[StoredItem]
    focus: str | None = None  # the weakest note, when that was asked for


def make_quiz(
    settings: Settings,
    store: ReviewStore,
    *,
    topic: str | None = None,
    filters: Filters = Filters(),  # noqa: B008 - frozen dataclass, safe as a default
    n: int = 5,
    kind: str = "mixed",
    mode: Mode = "unquizzed",
    searcher: Searcher | None = None,
) -> Quiz:
    """Generate and save a quiz. With a topic, passages come from retrieval; otherwise by mode:
    ``unquizzed`` passages that have no question yet, ``new`` passages never reviewed,
    ``weakest`` the note with the lowest recall rate."""
    from sharpnotes.app.quiz.coverage import coverage
    from sharpnotes.app.quiz.generate import generate_quiz

    exclude: set[str] = set()
    focus = None
    if mode == "weakest":
        weakest = coverage(settings, store).weakest
        if weakest is None:
            raise NothingToQuiz("nothing reviewed yet, so no weakest topic: review a quiz first")
        focus = weakest.name
        filters = Filters(folder=focus)  # a folder filter equal to a source matches that note
        topic = None
    elif mode == "new":
        exclude = {s.item.citation.chunk_id for s in store.items() if s.reps}
    elif not topic:
        exclude = {s.item.citation.chunk_id for s in store.items()}
    batch = generate_quiz(
        settings,
        topic=topic,
        filters=filters,
        n=n,
        kind=kind,
        exclude_chunks=exclude,
        searcher=searcher if topic else None,
    )
    store.add_items(batch.items)
    stored = [s for item in batch.items if (s := store.get(item.id)) is not None]
    return Quiz(batch, stored, focus)


def review_queue(store: ReviewStore, limit: int) -> tuple[list[StoredItem], list[StoredItem]]:
    """(due, new): due items first, most overdue first, then never-reviewed ones, ``limit`` in
    all. Retired items are never in it; stale ones are, with their note."""
    due = store.due_items(limit=limit)
    return due, store.new_items(limit=limit - len(due))
