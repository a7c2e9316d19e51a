"""What a quiz or review session asks, shared by the CLI and the app: which passages a new quiz
draws from, and the review queue (due items first, then new ones)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from sharpnotes.app.quiz.store import ReviewStore, StoredItem
from sharpnotes.app.quiz.verify import fact_of
from sharpnotes.app.retrieval import Filters
from sharpnotes.ingest.settings import Settings

if TYPE_CHECKING:
    from sharpnotes.app.quiz.generate import QuizBatch
    from sharpnotes.app.quiz.items import QuizItem
    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.app.syllabus import Topic

Mode = Literal["unquizzed", "new", "weakest"]


class NothingToQuiz(ValueError):
    """The quiz asked for cannot be made yet; the message says what to do."""


@dataclass
class Quiz:
    batch: QuizBatch
    stored: list[StoredItem]
    focus: str | None = None  # the weakest note, when that was asked for
    linked: tuple[str, int] | None = None  # (syllabus topic, its passages) quizzed on


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
    """Generate and save a quiz. A topic that is a syllabus topic's id or title ("focal-loss",
    as ``topics`` and ``today`` print them) asks from the passages linked to it (as ``topics
    show`` lists them); any other topic, from the passages retrieval finds for it; without
    one, by mode: ``unquizzed`` passages that have no question yet, ``new`` passages never
    reviewed, ``weakest`` the note with the lowest recall rate."""
    from sharpnotes.app.quiz.coverage import coverage
    from sharpnotes.app.quiz.generate import generate_quiz

    chunks: list[str] | None = None
    linked: tuple[str, int] | None = None
    asked: Topic | None = None  # the syllabus topic asked for
    if topic and searcher is not None and mode == "unquizzed":
        from sharpnotes.app.topics import syllabus_topic_chunks

        found = syllabus_topic_chunks(searcher, topic)
        if found is not None:
            asked, chunks = found
            if not chunks:
                raise NothingToQuiz(
                    f"no note covers {asked.title} yet: it is a gap to write "
                    "(sharpnotes topics --gaps)"
                )
            linked = (asked.title, len(chunks))
    exclude: set[str] = set()
    have: list[StoredItem] = []  # the learner's items, when the passages quizzed are left out
    focus = None
    if mode == "weakest":
        weakest = coverage(settings, store).weakest
        if weakest is None:
            raise NothingToQuiz("nothing reviewed yet, so no weakest topic: review a quiz first")
        focus = weakest.name
        filters = Filters(folder=focus)  # a folder filter equal to a source matches that note
        topic = None
    elif mode == "new":
        have = store.items()
        exclude = {s.item.citation.chunk_id for s in have if s.reps}
    elif not topic:
        have = store.items()
        exclude = {s.item.citation.chunk_id for s in have}
    if chunks is not None and searcher is not None:  # a topic's passages, as often as asked
        exclude = set(searcher.catalog.chunk_ids()) - set(chunks)
        topic, have = None, []
    batch = generate_quiz(
        settings,
        topic=topic,
        filters=filters,
        n=n,
        kind=kind,
        exclude_chunks=exclude,
        prefer_chunks=chunks,
        searcher=searcher if topic else None,
        known={s.id for s in have} if exclude and chunks is None else None,
    )
    # today sends no one again to the quiz it suggests (mixed, on the whole topic) when it made
    # nothing; a quiz of one kind, or on part of the notes, says nothing of that one
    if asked is not None and kind == "mixed" and filters == Filters():
        from sharpnotes.app.gaps import forget_barren, record_barren

        if batch.items:
            forget_barren(settings, asked.id)
        else:
            record_barren(settings, asked.id, chunks or [])
    batch.items = _not_edited_elsewhere(store, batch.items)
    store.add_items(batch.items)
    stored = [s for item in batch.items if (s := store.get(item.id)) is not None]
    return Quiz(batch, [s for s in stored if not s.suspended], focus, linked)


def _not_edited_elsewhere(store: ReviewStore, items: list[QuizItem]) -> list[QuizItem]:
    """``items`` without the ones the learner already has in their own words: a card whose
    question as made equals an edited item's original from the same note (its passage or its
    answer changed, so it came back under a new id). The same item (same id) stays: the store
    keeps the edit."""
    edited = {
        (s.item.citation.source, s.item.type, s.original["question"])
        for s in store.items(("active", "stale"))
        if s.original
    }
    if not edited:
        return items
    return [
        i
        for i in items
        if store.get(i.id) is not None or (i.citation.source, i.type, i.question) not in edited
    ]


def day_start(now: float | None = None) -> float:
    """The start (local midnight) of the local day holding ``now``."""
    now = time.time() if now is None else now
    day = datetime.fromtimestamp(now).date()
    return datetime.combine(day, datetime.min.time()).timestamp()


def next_day(now: float | None = None) -> float:
    """The next local midnight after ``now``: when a card buried today comes back."""
    now = time.time() if now is None else now
    day: date = datetime.fromtimestamp(now).date() + timedelta(days=1)
    return datetime.combine(day, datetime.min.time()).timestamp()


def due_later_today(store: ReviewStore, now: float | None = None) -> int:
    """How many items come due after ``now`` and before the local day ends (a card rated Again
    returns in minutes): what Today and the Home page say besides the due ones."""
    now = time.time() if now is None else now
    return store.counts(now=next_day(now) - 1)["due"] - store.counts(now=now)["due"]


def bury_until_tomorrow(store: ReviewStore, ids: list[str], now: float | None = None) -> float:
    """Hide ``ids`` from the review queue for the rest of the local day; returns when they come
    back."""
    until = next_day(now)
    store.bury(ids, until)
    return until


def typed_right(correct: Iterable[bool | None]) -> str:
    """ " Answers checked: 2 of 3 right." for a session's answers, typed or chosen (``None``: a
    card flipped, nothing to check), or "" when none was checked. A wrong answer may still be
    rated Good, so a session summary says both."""
    typed = [c for c in correct if c is not None]
    return f" Answers checked: {sum(typed)} of {len(typed)} right." if typed else ""


def resolve_ids(store: ReviewStore, given: list[str]) -> tuple[list[str], list[str]]:
    """(full ids, problems): each given id or unique id prefix (at least 4 characters) resolved
    to a stored item's id; a problem names one that matches none or several."""
    found: list[str] = []
    problems: list[str] = []
    for text in given:
        text = text.strip().lower()
        matches = store.ids_starting(text) if len(text) >= 4 else []
        if len(matches) == 1:
            found.append(matches[0])
        elif len(text) < 4:
            problems.append(f"{text}: give at least 4 characters of its id")
        elif matches:
            problems.append(f"{text} matches {len(matches)} items; give more of its id")
        else:
            problems.append(f"no quiz item {text}")
    return list(dict.fromkeys(found)), problems


@dataclass(frozen=True)
class DailyLimits:
    """How many new cards and reviews a day, and how many of each were done today (from the
    review log, so every session, the app's and the CLI's, counts against the same day)."""

    new_per_day: int
    reviews_per_day: int
    new_done: int = 0
    reviews_done: int = 0

    @property
    def new_left(self) -> int:
        return max(0, self.new_per_day - self.new_done)

    @property
    def reviews_left(self) -> int:
        return max(0, self.reviews_per_day - self.reviews_done)

    def describe(self) -> str:
        return (
            f"today: {self.new_done} of {self.new_per_day} new, {self.reviews_done} of "
            f"{self.reviews_per_day} reviews done"
        )


def daily_limits(
    settings: Settings,
    store: ReviewStore,
    *,
    new_per_day: int | None = None,
    reviews_per_day: int | None = None,
    now: float | None = None,
) -> DailyLimits:
    """The day's limits (``SHARPNOTES_NEW_PER_DAY``, ``SHARPNOTES_REVIEWS_PER_DAY``, or an
    override for one session) with what was done since local midnight."""
    new_done, reviews_done = store.done_since(day_start(now))
    return DailyLimits(
        settings.study.new_per_day if new_per_day is None else new_per_day,
        settings.study.reviews_per_day if reviews_per_day is None else reviews_per_day,
        new_done,
        reviews_done,
    )


class Siblings:
    """One item of a fact a day, as Anki buries siblings: items that ask for the same fact
    (``verify.fact_of``: the same passage and answer, such as the cloze and the MCQ of one
    blank) are siblings, and once one is asked on a day (reviewed since local midnight, or taken
    first into the day's queue) the others wait until the next day. Nothing is stored: a held
    item keeps its schedule and is asked on the first day no sibling comes before it. An item
    reviewed today is never held (it was the day's one)."""

    def __init__(self, store: ReviewStore, now: float | None = None) -> None:
        today = store.reviewed_since(day_start(now))
        self.reviewed = {s.id for s in today}
        self.asked: dict[tuple[str, str], str] = {}  # fact -> the item asked for it today
        for stored in today:
            self.asked.setdefault(fact_of(stored.item), stored.id)
        self.held: list[StoredItem] = []

    def take(self, candidates: Iterable[StoredItem], limit: int | None = None) -> list[StoredItem]:
        """Up to ``limit`` of ``candidates``, in their order, without siblings of an item
        asked today; the ones passed over are added to ``held``."""
        out: list[StoredItem] = []
        for stored in candidates:
            if limit is not None and len(out) >= limit:
                break
            first = self.asked.setdefault(fact_of(stored.item), stored.id)
            if first == stored.id or stored.id in self.reviewed:
                out.append(stored)
            else:
                self.held.append(stored)
        return out


def held_line(held: list[StoredItem]) -> str:
    """What ``Siblings`` held back, on one line with the command that asks it anyway; "" when
    nothing was."""
    if not held:
        return ""
    one = len(held) == 1
    what = "1 sibling card waits" if one else f"{len(held)} sibling cards wait"
    ids = ",".join(s.id[:8] for s in held) if len(held) <= 5 else "ID"
    return (
        f"{what} until tomorrow (one card a day for each answer of a passage); ask "
        f"{'it' if one else 'them'} now: sharpnotes review --ids {ids}"
    )


def review_queue(
    store: ReviewStore,
    limits: DailyLimits,
    now: float | None = None,
    siblings: Siblings | None = None,
) -> tuple[list[StoredItem], list[StoredItem]]:
    """(due, new): due items, most overdue first, then never-reviewed ones, each up to what the
    day's limits leave, one of siblings a day (``Siblings``; pass one to see what it held).
    Retired, suspended and buried items are never in it; stale ones are, with their note."""
    siblings = Siblings(store, now) if siblings is None else siblings
    due = siblings.take(store.due_items(now=now), limits.reviews_left)
    return due, siblings.take(store.new_items(now=now), limits.new_left)
