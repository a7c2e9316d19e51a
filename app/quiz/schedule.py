"""Spaced review with FSRS (the ``fsrs`` package): a grade becomes a rating, the rating moves the
item's card on, and the card and its review log are stored as the package's own JSON."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sharpnotes.app.quiz.store import ReviewStore, ReviewStoreError, StoredItem

if TYPE_CHECKING:
    from fsrs import Card, Scheduler

RATING_NAMES = {1: "Again", 2: "Hard", 3: "Good", 4: "Easy"}


@dataclass
class ReviewResult:
    review_id: int
    rating: int
    due: datetime

    def describe(self, now: datetime | None = None) -> str:
        """'Good; next in 10 minutes (2026-11-23 14:45 UTC)'."""
        now = now or datetime.now(UTC)
        when = self.due.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"{RATING_NAMES[self.rating]}; next in {humanize(self.due - now)} ({when})"


def humanize(delta: timedelta) -> str:
    seconds = max(0, math.ceil(delta.total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = round(seconds / size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return "less than a minute"


def scheduler() -> Scheduler:
    """FSRS with its published default parameters and 90% desired retention, without fuzz:
    fuzz draws a random interval near the computed one at each call, so the interval a rating
    button showed was not the one the rating then saved ("Easy (8 days)", saved: "next in 11
    days"), and an undo that replays the reviews left would move the due dates it restores."""
    from fsrs import Scheduler

    return Scheduler(enable_fuzzing=False)


def card_of(stored: StoredItem) -> Card:
    """The item's FSRS card (a fresh one, with an id derived from the item's, before any
    review)."""
    from fsrs import Card

    if stored.card:
        return Card.from_json(stored.card)
    return Card(card_id=int(stored.id[:12], 16))


def parse_rating(value: str | int) -> int:
    """1-4 or a rating name (again, hard, good, easy), as an int; ValueError otherwise."""
    text = str(value).strip().lower()
    names = {name.lower(): n for n, name in RATING_NAMES.items()}
    if text in names:
        return names[text]
    if text.isdigit() and int(text) in RATING_NAMES:
        return int(text)
    raise ValueError(f"{value!r}: a rating is 1 Again, 2 Hard, 3 Good or 4 Easy")


def record(
    store: ReviewStore,
    item_id: str,
    rating: int,
    *,
    response: str = "",
    correct: bool | None = None,
    score: float | None = None,
    now: datetime | None = None,
    fsrs: Scheduler | None = None,
) -> ReviewResult:
    """Review an item with ``rating`` (1 Again .. 4 Easy) and store the new card and the log in
    one transaction."""
    from fsrs import Rating

    stored = store.get(item_id)
    if stored is None:
        raise ReviewStoreError(f"no quiz item {item_id} in {store.path}")
    now = now or datetime.now(UTC)
    card, log = (fsrs or scheduler()).review_card(card_of(stored), Rating(rating), now)
    review_id = store.record_review(
        item_id,
        rating=rating,
        card=card.to_json(),
        due=card.due.timestamp(),
        reviewed_at=now.timestamp(),
        log=log.to_json(),
        response=response,
        correct=correct,
        score=score,
    )
    return ReviewResult(review_id, rating, card.due)


def preview(stored: StoredItem, now: datetime | None = None) -> dict[int, datetime]:
    """The next due date for each rating (1-4), computed by the scheduler without recording
    anything: what the rating buttons show."""
    from fsrs import Rating

    now = now or datetime.now(UTC)
    fsrs = scheduler()
    return {
        rating: fsrs.review_card(card_of(stored), Rating(rating), now)[0].due
        for rating in RATING_NAMES
    }


def preview_labels(stored: StoredItem, now: datetime | None = None) -> dict[int, str]:
    """'Again (1 minute)', 'Good (10 minutes)', ... per rating."""
    now = now or datetime.now(UTC)
    return {
        rating: f"{RATING_NAMES[rating]} ({humanize(due - now)})"
        for rating, due in preview(stored, now).items()
    }


def undo_last(store: ReviewStore) -> tuple[str, int] | None:
    """Take back the most recent review of any item: its card goes back to the state before it
    (the item's remaining reviews replayed from a fresh card, in order, with their own times and
    ratings). Returns (item id, rating undone), or None when nothing was reviewed."""
    from fsrs import Rating

    last = store.last_review()
    if last is None:
        return None
    stored = store.get(last.item_id)
    if stored is None:
        raise ReviewStoreError(f"no quiz item {last.item_id} in {store.path}")
    fresh = dataclasses.replace(stored, card=None)
    card, fsrs = card_of(fresh), scheduler()
    earlier = [r for r in store.reviews(last.item_id) if r.id != last.id]
    for row in earlier:
        when = datetime.fromtimestamp(row.reviewed_at, UTC)
        card, _ = fsrs.review_card(card, Rating(row.rating), when)
    store.undo_review(
        last.id,
        card=card.to_json() if earlier else None,
        due=card.due.timestamp() if earlier else None,
        last_review=earlier[-1].reviewed_at if earlier else None,
    )
    return last.item_id, last.rating
